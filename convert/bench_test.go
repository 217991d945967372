package convert

import (
	"io"
	"path/filepath"
	"testing"
)

// BenchmarkConvertFP8 converts the dsref FP8 checkpoint (8.4 MB) to BF16;
// SetBytes is the source size, so ns/op gives MB/s of input.
func BenchmarkConvertFP8(b *testing.B) {
	dir := filepath.Join(mustFixturesB(b), "dsref", "hf", "dsv3-tiny-fp8")
	var res *Result
	for b.Loop() {
		var err error
		if res, err = Convert(b.Context(), dir, io.Discard, Options{Threads: 2}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(res.InBytes)
}
