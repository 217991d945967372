package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime/debug"
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

// TestOpenFailuresCloseDescriptors: a mapped part keeps its descriptor open
// for ReadTensor; every failed open (a truncated file) and Close must
// release it, not leave it to a finalizer.
func TestOpenFailuresCloseDescriptors(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("cannot count descriptors: %v", err)
		}
		return len(ents)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	src := filepath.Join(fixturesDir(t), "models", "ds3-tiny-Q4_K_M.gguf")
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.gguf")
	if err := os.WriteFile(cut, raw[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(dir, "whole.gguf")
	if err := os.WriteFile(whole, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	before := fds()
	for range 20 {
		if f, err := Open(cut); err == nil {
			f.Close()
			t.Fatal("truncated file opened")
		}
		f, err := Open(whole)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.ReadTensor(&f.Tensors[0], make([]byte, f.Tensors[0].Size)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if after := fds(); after != before {
		t.Fatalf("open descriptors went from %d to %d over 20 failed and 20 good opens", before, after)
	}
}
