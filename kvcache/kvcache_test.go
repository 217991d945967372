package kvcache

import (
	"errors"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/kernels"
)

// row returns a row whose values encode (seq tag, layer, pos), so a wrong
// page mapping shows in the failure (ollama kvcache tests do the same).
func row(tag, layer, pos, width int) []float32 {
	r := make([]float32, width)
	for i := range r {
		r[i] = float32(tag*512 + layer*128 + pos*2 + i%2) // < 2048: exact in f16
	}
	return r
}

func readRow(c *Cache, s SeqID, layer, pos int) []float32 {
	w := c.Config().Width
	f16, f32, _ := c.Span(s, layer, pos)
	out := make([]float32, w)
	for i := range out {
		if f32 != nil {
			out[i] = f32[i]
		} else {
			out[i] = kernels.F16ToF32(f16[i])
		}
	}
	return out
}

func fill(t *testing.T, c *Cache, s SeqID, tag, n int) {
	t.Helper()
	start, err := c.Append(s, n)
	if err != nil {
		t.Fatal(err)
	}
	for l := 0; l < c.Config().NLayer; l++ {
		for p := start; p < start+n; p++ {
			c.Write(s, l, p, row(tag, l, p, c.Config().Width))
		}
	}
}

func check(t *testing.T, c *Cache, s SeqID, tag, from, to int) {
	t.Helper()
	for l := 0; l < c.Config().NLayer; l++ {
		for p := from; p < to; p++ {
			got, want := readRow(c, s, l, p), row(tag, l, p, c.Config().Width)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("seq %d layer %d pos %d: got %v, want %v", s, l, p, got[:2], want[:2])
				}
			}
		}
	}
}

func TestPagesForkTruncate(t *testing.T) {
	for _, typ := range []dtype.Type{dtype.F32, dtype.F16} {
		c, err := New(Config{NLayer: 2, Width: 4, Type: typ, Capacity: 64, PageSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		a := c.NewSeq()
		fill(t, c, a, 1, 20) // pages: 3 (8+8+4)
		check(t, c, a, 1, 0, 20)
		if c.UsedPages() != 3 || c.Len(a) != 20 {
			t.Fatalf("%v: %d pages, len %d", typ, c.UsedPages(), c.Len(a))
		}
		// fork 12 tokens: one full page shared, the partial one copied
		b, err := c.Fork(a, 12)
		if err != nil {
			t.Fatal(err)
		}
		if c.UsedPages() != 4 {
			t.Fatalf("%v: after fork %d pages, want 4", typ, c.UsedPages())
		}
		check(t, c, b, 1, 0, 12)
		// b diverges: its new rows must not appear in a (copy-on-write)
		fill(t, c, b, 2, 6)
		check(t, c, b, 2, 12, 18)
		check(t, c, a, 1, 0, 20)
		// truncating a into the shared page and appending copies before writing
		c.Truncate(a, 5)
		fill(t, c, a, 3, 2)
		check(t, c, a, 3, 5, 7)
		check(t, c, b, 1, 0, 5)
		check(t, c, b, 1, 5, 8) // b's view of the formerly shared page is intact
		c.Free(a)
		c.Free(b)
		if c.UsedPages() != 0 || c.FreeTokens() != 64 {
			t.Fatalf("%v: after freeing all: %d pages used, %d tokens free", typ, c.UsedPages(), c.FreeTokens())
		}
	}
}

func TestFull(t *testing.T) {
	c, err := New(Config{NLayer: 1, Width: 2, Type: dtype.F16, Capacity: 16, PageSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	a := c.NewSeq()
	if _, err := c.Append(a, 17); !errors.Is(err, ErrFull) || c.Len(a) != 0 || c.UsedPages() != 0 {
		t.Fatalf("overfull append: err %v, len %d, pages %d", err, c.Len(a), c.UsedPages())
	}
	if _, err := c.Append(a, 16); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(a, 1); !errors.Is(err, ErrFull) {
		t.Fatalf("err %v, want ErrFull", err)
	}
	if _, err := c.Append(SeqID(99), 1); err == nil {
		t.Fatal("append to an unknown sequence succeeded")
	}
	if _, err := c.Fork(a, 17); err == nil {
		t.Fatal("fork longer than the sequence succeeded")
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{NLayer: 0, Width: 1, Type: dtype.F16, Capacity: 1},
		{NLayer: 1, Width: 0, Type: dtype.F16, Capacity: 1},
		{NLayer: 1, Width: 1, Type: dtype.Q8_0, Capacity: 1},
		{NLayer: 1, Width: 1, Type: dtype.F16, Capacity: 0},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	if got := (Config{NLayer: 61, Width: 576, Type: dtype.F16}).BytesPerToken(); got != 70272 {
		t.Errorf("V3 MLA bytes per token = %d, want 70272", got)
	}
}
