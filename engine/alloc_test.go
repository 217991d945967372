package engine

import (
	"context"
	"testing"
)

// TestDecodeDoesNotAllocate: once a sequence is warm, a decode step (one
// token through the model, its KV appended, logits out) allocates nothing —
// scratch buffers live in the State and grow ahead of the context.
func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, m := range []string{"qwen2-tiny-Q8_0.gguf", "llama-tiny-Q4_K_M.gguf", "ds3-tiny-Q4_K_M.gguf", "ds2-lite-tiny-Q4_0.gguf"} {
		e, err := Load(context.Background(), fixtureModel(t, m), Options{CtxSize: 512})
		if err != nil {
			t.Fatal(err)
		}
		s := e.NewSequence()
		warm := make([]int32, 200)
		for i := range warm {
			warm[i] = int32(i + 1)
		}
		if _, err := s.Eval(context.Background(), warm, false); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 5; i++ { // decode-shaped passes reach their buffer sizes
			s.Eval(context.Background(), []int32{int32(300 + i)}, false)
		}
		id := int32(5)
		n := testing.AllocsPerRun(40, func() {
			if _, err := s.Eval(context.Background(), []int32{id}, false); err != nil {
				t.Fatal(err)
			}
			id++
		})
		if n != 0 {
			t.Errorf("%s: %.2f allocations per decode step, want 0", m, n)
		}
		s.Close()
		e.Close()
	}
}

// BenchmarkDecodeStep measures one decode step of a 27-layer MLA/MoE fixture.
func BenchmarkDecodeStep(b *testing.B) {
	e, err := Load(context.Background(), fixtureModel(b, "ds2-lite-tiny-Q4_0.gguf"), Options{CtxSize: 4096})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s := e.NewSequence()
	s.Eval(context.Background(), []int32{1, 2, 3, 4}, false)
	id := int32(5)
	b.ReportAllocs()
	for b.Loop() {
		if s.Len() >= 4000 {
			s.Truncate(4)
		}
		s.Eval(context.Background(), []int32{id % 1000}, false)
		id++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}
