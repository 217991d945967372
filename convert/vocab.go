package convert

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dseek-ai/dseek/tokenizer"
)

// readVocab builds the GGUF vocabulary of the checkpoint in dir from
// tokenizer.json and tokenizer_config.json (tokenizer.ConvertHF), padded to
// config.json's vocab_size as get_vocab_base does, with special ids missing
// from tokenizer_config.json taken from config.json (gguf-py SpecialVocab's
// fallback) and the chat template from chat_template.jinja or
// chat_template.json when tokenizer_config.json has none (newer gguf-py).
func readVocab(dir string, h hparams) (tokenizer.Vocab, error) {
	tj, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return tokenizer.Vocab{}, fmt.Errorf("convert: %w (only Hugging Face BPE tokenizers in tokenizer.json are supported)", err)
	}
	tc, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tokenizer.Vocab{}, err
	}
	v, err := tokenizer.ConvertHF(tj, tc)
	if err != nil {
		return tokenizer.Vocab{}, fmt.Errorf("convert: %w", err)
	}
	if n, ok := h.int("vocab_size"); ok {
		if int(n) < len(v.Tokens) {
			return tokenizer.Vocab{}, fmt.Errorf("convert: config.json vocab_size %d is smaller than the tokenizer's %d tokens", n, len(v.Tokens))
		}
		if err := v.PadTo(int(n)); err != nil {
			return tokenizer.Vocab{}, err
		}
	}
	for _, s := range []struct{ typ, name string }{{"bos", tokenizer.SpecialBOS}, {"eos", tokenizer.SpecialEOS},
		{"unk", tokenizer.SpecialUNK}, {"sep", tokenizer.SpecialSEP}, {"pad", tokenizer.SpecialPAD}, {"mask", tokenizer.SpecialMASK}} {
		if _, ok := v.SpecialIDs[s.name]; ok {
			continue
		}
		if id, ok := h.int(s.typ + "_token_id"); ok && id >= 0 && int(id) < len(v.Tokens) {
			v.SpecialIDs[s.name] = int32(id)
		}
	}
	if v.ChatTemplate == "" {
		v.ChatTemplate = templateFile(dir)
	}
	return v, nil
}

// templateFile reads chat_template.jinja or chat_template.json ("" if none).
func templateFile(dir string) string {
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		return string(b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.json")); err == nil {
		var t struct {
			ChatTemplate string `json:"chat_template"`
		}
		if json.Unmarshal(b, &t) == nil {
			return t.ChatTemplate
		}
	}
	return ""
}

// vocabKeys appends the tokenizer metadata in the order gguf-py writes it
// (_set_vocab_gpt2, then SpecialVocab.add_to_gguf: merges, special ids in
// bos/eos/unk/sep/pad/mask order, add_bos/add_eos, chat template).
func vocabKeys(l *kvList, v tokenizer.Vocab) {
	l.add(tokenizer.KeyModel, v.Model)
	l.add(tokenizer.KeyPre, v.Pre)
	l.add(tokenizer.KeyTokens, v.Tokens)
	types := make([]int32, len(v.Types))
	for i, t := range v.Types {
		types[i] = int32(t)
	}
	l.add(tokenizer.KeyTokenType, types)
	if len(v.Merges) > 0 {
		l.add(tokenizer.KeyMerges, v.Merges)
	}
	for _, name := range []string{tokenizer.SpecialBOS, tokenizer.SpecialEOS, tokenizer.SpecialUNK,
		tokenizer.SpecialSEP, tokenizer.SpecialPAD, tokenizer.SpecialMASK} {
		if id, ok := v.SpecialIDs[name]; ok {
			l.add(tokenizer.SpecialKey(name), uint32(id))
		}
	}
	if v.AddBOS != nil {
		l.add(tokenizer.KeyAddBOS, *v.AddBOS)
	}
	if v.AddEOS != nil {
		l.add(tokenizer.KeyAddEOS, *v.AddEOS)
	}
	if v.ChatTemplate != "" {
		l.add(tokenizer.KeyChatTmpl, v.ChatTemplate)
	}
}

// addPrefixSpace returns tokenizer_config.json's add_prefix_space, which
// LlamaModel.set_vocab writes as tokenizer.ggml.add_space_prefix.
func addPrefixSpace(dir string) (bool, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return false, false
	}
	var c struct {
		AddPrefixSpace *bool `json:"add_prefix_space"`
	}
	if json.Unmarshal(b, &c) != nil || c.AddPrefixSpace == nil {
		return false, false
	}
	return *c.AddPrefixSpace, true
}
