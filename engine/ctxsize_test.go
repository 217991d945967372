package engine

import (
	"context"
	"errors"
	"testing"
)

// TestCtxSizeRoundedToPages: the KV cache holds whole pages, and the
// context every check uses is that real capacity, so a prompt that fits
// the cache is not refused for the smaller size asked for (and one that
// does not fit is refused with the capacity in the message).
func TestCtxSizeRoundedToPages(t *testing.T) {
	e, err := Load(context.Background(), fixtureModel(t, "ds3-tiny-Q4_K_M.gguf"), Options{CtxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps := e.Cache.Config().PageSize
	if got := e.Options().CtxSize; got != ps || e.Cache.MaxPages()*ps != got {
		t.Fatalf("CtxSize 1: options say %d, cache holds %d pages of %d", got, e.Cache.MaxPages(), ps)
	}
	prompt := make([]int32, ps-1)
	for i := range prompt {
		prompt[i] = int32(10 + i)
	}
	s := e.NewSequence()
	if _, err := s.Generate(context.Background(), prompt, GenerateOptions{MaxTokens: 1}, func(int32) bool { return true }); err != nil {
		t.Fatalf("a %d-token prompt in a %d-token cache: %v", len(prompt), ps, err)
	}
	s.Close()
	s = e.NewSequence()
	defer s.Close()
	long := append(prompt, 1, 2)
	if _, err := s.Generate(context.Background(), long, GenerateOptions{MaxTokens: 1}, func(int32) bool { return true }); !errors.Is(err, ErrContextFull) {
		t.Fatalf("a %d-token prompt in a %d-token cache: %v, want ErrContextFull", len(long), ps, err)
	}
}
