package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestReadTensorSameFile: ReadTensor reads the file that was opened and
// parsed, not whatever the path names later. A model rewritten in place by
// rename (as quantize -o does) or deleted after OpenWith must neither mix
// the new file's weights into the old tables nor fail.
func TestReadTensorSameFile(t *testing.T) {
	src := filepath.Join(fixturesDir(t), "models", "qwen2-tiny-Q8_0.gguf")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, change := range []string{"rename", "remove"} {
		t.Run(change, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.gguf")
			if err := os.WriteFile(path, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, opt := range []Options{{}, {NoMmap: true}} {
				f, err := OpenWith(path, opt)
				if err != nil {
					t.Fatal(err)
				}
				ti := &f.Tensors[len(f.Tensors)-1]
				want, err := f.TensorData(ti)
				if err != nil {
					t.Fatal(err)
				}
				want = bytes.Clone(want)
				switch change {
				case "rename":
					other := bytes.Clone(raw)
					for i := len(other) - int(ti.Size); i < len(other); i++ {
						other[i] ^= 0x5a
					}
					tmp := filepath.Join(dir, "new.gguf")
					if err := os.WriteFile(tmp, other, 0o644); err != nil {
						t.Fatal(err)
					}
					if err := os.Rename(tmp, path); err != nil {
						t.Fatal(err)
					}
				case "remove":
					if err := os.Remove(path); err != nil {
						t.Fatal(err)
					}
				}
				got := make([]byte, ti.Size)
				if err := f.ReadTensor(ti, got); err != nil {
					t.Fatalf("no-mmap %v: ReadTensor after the path was %sd: %v", opt.NoMmap, change, err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("no-mmap %v: ReadTensor after the path was %sd read other bytes than the opened file's", opt.NoMmap, change)
				}
				f.Close()
				if err := os.WriteFile(path, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
