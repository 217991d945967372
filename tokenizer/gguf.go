package tokenizer

import (
	"errors"
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/gguf"
)

// GGUF metadata keys read by ReadVocab (gguf-py constants Keys.Tokenizer).
const (
	KeyModel     = "tokenizer.ggml.model"
	KeyPre       = "tokenizer.ggml.pre"
	KeyTokens    = "tokenizer.ggml.tokens"
	KeyTokenType = "tokenizer.ggml.token_type"
	KeyMerges    = "tokenizer.ggml.merges"
	KeyAddBOS    = "tokenizer.ggml.add_bos_token"
	KeyAddEOS    = "tokenizer.ggml.add_eos_token"
	KeyChatTmpl  = "tokenizer.chat_template"
)

// SpecialKey returns the GGUF key of a special-token id name, e.g.
// SpecialKey(SpecialBOS) = "tokenizer.ggml.bos_token_id".
func SpecialKey(name string) string { return "tokenizer.ggml." + name + "_token_id" }

// FromGGUF builds a tokenizer from a GGUF file's tokenizer.ggml.* metadata
// (see ReadVocab and New). Errors: a missing model, token list or merge
// list, a key of the wrong type, or anything New rejects.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	v, err := ReadVocab(f)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// ReadVocab reads the tokenizer.ggml.* keys of f: model, pre (optional),
// tokens, token_type (optional), merges (required for gpt2), every
// <name>_token_id present, add_bos_token/add_eos_token and
// tokenizer.chat_template (optional).
// Absent optional keys are left empty/nil; a key of the wrong type is an
// error.
func ReadVocab(f *gguf.File) (Vocab, error) {
	var v Vocab
	var err error
	if v.Model, err = f.String(KeyModel); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Pre, err = optional(f.String(KeyPre)); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if v.Tokens, err = f.Strings(KeyTokens); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	types, err := optional(f.Int32s(KeyTokenType))
	if err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	if types != nil {
		v.Types = make([]TokenType, len(types))
		for i, t := range types {
			v.Types[i] = TokenType(t)
		}
	}
	if v.Model == "gpt2" {
		if v.Merges, err = f.Strings(KeyMerges); err != nil {
			return v, fmt.Errorf("tokenizer: cannot find tokenizer merges: %w", err)
		}
	}
	v.SpecialIDs = map[string]int32{}
	for _, name := range specialKeyOrder {
		u, err := f.Uint(SpecialKey(name))
		if errors.Is(err, gguf.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
		if u > math.MaxInt32 {
			continue // out of range for any vocabulary: ignored, as llama.cpp ignores ids >= n_vocab
		}
		v.SpecialIDs[name] = int32(u)
	}
	for key, dst := range map[string]**bool{KeyAddBOS: &v.AddBOS, KeyAddEOS: &v.AddEOS} {
		b, err := f.Bool(key)
		if errors.Is(err, gguf.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return v, fmt.Errorf("tokenizer: %w", err)
		}
		*dst = &b
	}
	if v.ChatTemplate, err = optional(f.String(KeyChatTmpl)); err != nil {
		return v, fmt.Errorf("tokenizer: %w", err)
	}
	return v, nil
}

// optional turns ErrKeyNotFound into the zero value without error.
func optional[T any](v T, err error) (T, error) {
	if errors.Is(err, gguf.ErrKeyNotFound) {
		var zero T
		return zero, nil
	}
	return v, err
}
