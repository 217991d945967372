package model

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestWeightAllocCopies: with WeightAlloc every bound matrix is a copy in
// the allocator's memory holding exactly the file's bytes, also when the
// copy is split over several goroutines (copyChunk lowered so the tiny
// fixture tensors take the parallel path), and a gathered-only token_embd
// stays a view of the file.
func TestWeightAllocCopies(t *testing.T) {
	path := filepath.Join(fixtures.MustDir(t), "models", "ds3-tiny-F16.gguf")
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	defer func(c int) { copyChunk = c }(copyChunk)
	for _, chunk := range []int{8 << 20, 4096, 1000} {
		copyChunk = chunk
		var given [][]byte
		m, err := Load(f, Options{WeightAlloc: func(n int) ([]byte, error) {
			b := make([]byte, n)
			given = append(given, b)
			return b, nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		ref, err := Load(f, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.output.Data, ref.output.Data) || &m.output.Data[0] == &ref.output.Data[0] {
			t.Fatalf("chunk %d: output.weight is not an exact copy", chunk)
		}
		if &m.tokEmbd.Data[0] != &ref.tokEmbd.Data[0] {
			t.Errorf("chunk %d: token_embd was copied although output.weight exists", chunk)
		}
		// Every allocation must hold some tensor's bytes exactly.
		want := map[string]bool{}
		for i := range f.Tensors {
			if d, err := f.TensorData(&f.Tensors[i]); err == nil {
				want[string(d)] = true
			}
		}
		for i, b := range given {
			if !want[string(b)] {
				t.Fatalf("chunk %d: allocation %d (%d bytes) matches no tensor of the file", chunk, i, len(b))
			}
		}
		if len(given) < 10 {
			t.Fatalf("chunk %d: only %d weights copied", chunk, len(given))
		}
	}
}
