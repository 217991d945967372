package engine

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadVocabMismatch: a file whose token list is longer than token_embd
// (deepseek2.vocab_size and the tensors say 1033, the list holds 1133 with
// 100 extra control tokens) used to load; a prompt with one of the extra
// tokens then failed mid-run with "bad batch", and a shorter list let the
// sampler pick ids that printed as nothing. llama.cpp takes n_vocab from the
// token list and refuses both; so must Load, naming both sizes.
func TestLoadVocabMismatch(t *testing.T) {
	for _, extra := range []int{100, -500} {
		dst := filepath.Join(t.TempDir(), "vocab.gguf")
		rewrite(t, fixtureModel(t, "ds3-tiny-Q4_K_M.gguf"), dst, func(k string, v any) any {
			switch k {
			case "tokenizer.ggml.tokens":
				toks := v.([]string)
				if extra < 0 {
					return toks[:len(toks)+extra]
				}
				for i := range extra {
					toks = append(toks, fmt.Sprintf("<|extra%d|>", i))
				}
				return toks
			case "tokenizer.ggml.token_type":
				types := v.([]int32)
				if extra < 0 {
					return types[:len(types)+extra]
				}
				for range extra {
					types = append(types, 3)
				}
				return types
			}
			return v
		}, nil)
		e, err := Load(context.Background(), dst, Options{})
		if err == nil {
			e.Close()
			t.Fatalf("extra %d: loaded, want an error", extra)
		}
		want := fmt.Sprintf("has %d tokens but the model's vocabulary (token_embd.weight) has 1033", 1033+extra)
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("extra %d: err = %v, want it to say %q", extra, err, want)
		}
	}
}
