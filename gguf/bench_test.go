package gguf

import (
	"path/filepath"
	"testing"
)

// BenchmarkOpen measures Open+Close (header, metadata and tensor table; no
// tensor bytes are touched) of a model fixture and of the 151936-token Qwen2
// vocabulary, with and without mmap.
func BenchmarkOpen(b *testing.B) {
	fx := fixturesDir(b)
	for _, name := range []string{"models/ds3-tiny-Q4_K_M.gguf", "tokenizer/ggml-vocab-qwen2-reconstructed.gguf"} {
		for _, opt := range []Options{{}, {NoMmap: true}} {
			mode := "mmap"
			if opt.NoMmap {
				mode = "read"
			}
			b.Run(filepath.Base(name)+"/"+mode, func(b *testing.B) {
				path := filepath.Join(fx, name)
				for b.Loop() {
					f, err := OpenWith(path, opt)
					if err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			})
		}
	}
}
