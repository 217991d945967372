package quantize

import (
	"io"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// BenchmarkQuantize re-encodes the ds3-tiny F16 fixture (17 MB); SetBytes is
// the input tensor bytes.
func BenchmarkQuantize(b *testing.B) {
	dir, err := fixtures.Dir()
	if err != nil {
		b.Fatal(err)
	}
	in, err := gguf.Open(filepath.Join(dir, "models", "ds3-tiny-F16.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	for _, ft := range []FileType{MostlyQ8_0, MostlyQ4_K_M, MostlyQ6_K} {
		b.Run(ft.String(), func(b *testing.B) {
			var res *Result
			for b.Loop() {
				if res, err = Write(b.Context(), in, io.Discard, ft, Options{Threads: 2}); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(res.InBytes)
		})
	}
}
