package gguf

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// rewrite writes f back through the Writer: every KV in order, every tensor
// declared in order, then its bytes.
func rewrite(f *File, w io.Writer) error {
	gw := NewWriter(w)
	for _, kv := range f.KVs {
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	for _, t := range f.Tensors {
		if err := gw.AddTensor(t.Name, t.Type, t.Dims); err != nil {
			return err
		}
	}
	if err := gw.WriteHeader(); err != nil {
		return err
	}
	for i := range f.Tensors {
		data, err := f.TensorData(&f.Tensors[i])
		if err != nil {
			return err
		}
		if err := gw.WriteTensorData(f.Tensors[i].Name, data); err != nil {
			return err
		}
	}
	return gw.Close()
}

// TestFixturesOpen parses every fixture GGUF three ways (mmap, NoMmap, Parse
// over a bytes.Reader) and requires identical metadata, tensor tables and
// tensor bytes (TensorData and ReadTensor), the bytes also equal to the file
// slice at data offset + tensor offset.
func TestFixturesOpen(t *testing.T) {
	for _, path := range fixtureGGUFs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fm, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer fm.Close()
			fr, err := OpenWith(path, Options{NoMmap: true})
			if err != nil {
				t.Fatal(err)
			}
			defer fr.Close()
			fp, err := Parse(bytes.NewReader(raw), int64(len(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if fm.Version != 3 || fm.Alignment != DefaultAlignment {
				t.Errorf("version %d alignment %d", fm.Version, fm.Alignment)
			}
			for _, g := range []*File{fr, fp} {
				if !reflect.DeepEqual(g.KVs, fm.KVs) || !reflect.DeepEqual(g.Tensors, fm.Tensors) || g.Version != fm.Version {
					t.Fatal("metadata differs between open modes")
				}
			}
			dataOff := fm.parts[0].dataOffset
			for i := range fm.Tensors {
				ti := &fm.Tensors[i]
				want := raw[dataOff+int64(ti.Offset):][:ti.Size]
				for _, g := range []*File{fm, fr, fp} {
					got, err := g.TensorData(ti)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, want) {
						t.Fatalf("tensor %s: bytes differ", ti.Name)
					}
					dst := make([]byte, ti.Size)
					if err := g.ReadTensor(ti, dst); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(dst, want) {
						t.Fatalf("tensor %s: ReadTensor bytes differ", ti.Name)
					}
					if err := g.ReadTensor(ti, dst[:len(dst)-1]); err == nil {
						t.Fatalf("tensor %s: ReadTensor into a short buffer succeeded", ti.Name)
					}
					half := ti.Size / 2
					clear(dst)
					if err := g.ReadTensorAt(ti, dst[half:], half); err != nil {
						t.Fatal(err)
					}
					if err := g.ReadTensorAt(ti, dst[:half], 0); err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(dst, want) {
						t.Fatalf("tensor %s: ReadTensorAt halves differ", ti.Name)
					}
					if err := g.ReadTensorAt(ti, dst[half:], half+1); err == nil {
						t.Fatalf("tensor %s: ReadTensorAt past the end succeeded", ti.Name)
					}
					if err := g.ReadTensorAt(ti, dst[:1], -1); err == nil {
						t.Fatalf("tensor %s: ReadTensorAt at -1 succeeded", ti.Name)
					}
				}
			}
			checkFixtureSemantics(t, fm)
		})
	}
}

// checkFixtureSemantics checks relations that hold in every fixture: the
// token list and token types have the same length, and every blk.N tensor has
// N < block_count.
func checkFixtureSemantics(t *testing.T, f *File) {
	t.Helper()
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		t.Fatal(err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != len(types) || len(tokens) < 1000 {
		t.Errorf("%d tokens, %d token types", len(tokens), len(types))
	}
	arch := f.Architecture()
	if arch == "" {
		t.Fatal("no general.architecture")
	}
	if len(f.Tensors) == 0 {
		return // vocab-only file
	}
	nBlocks, err := f.Uint(arch + ".block_count")
	if err != nil {
		t.Fatal(err)
	}
	for _, ti := range f.Tensors {
		if rest, ok := strings.CutPrefix(ti.Name, "blk."); ok {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, '.')])
			if err != nil || uint64(n) >= nBlocks {
				t.Errorf("tensor %s outside block_count %d", ti.Name, nBlocks)
			}
		}
	}
	if _, ok := f.Tensor("token_embd.weight"); !ok {
		t.Error("no token_embd.weight")
	}
}

// TestRoundTripFixtures reads every fixture and writes it back with the
// Writer: the output must be byte-identical to the original file (llama.cpp,
// llama-quantize and gguf-py all lay files out as the Writer does), except
// for the trailing padding of two vocab-only files (see below).
func TestRoundTripFixtures(t *testing.T) {
	for _, path := range fixtureGGUFs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var buf bytes.Buffer
			if err := rewrite(f, &buf); err != nil {
				t.Fatal(err)
			}
			want := raw
			if len(f.Tensors) == 0 {
				// The vocab-only files were written by an older gguf-py that
				// omitted the data-section padding when there are no tensors;
				// ggml's gguf_write_to_buf (and the Writer) always pad.
				for len(want)%DefaultAlignment != 0 {
					want = append(want, 0)
				}
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("rewritten file differs: %s", firstDiff(buf.Bytes(), want))
			}
		})
	}
}

func firstDiff(got, want []byte) string {
	n := min(len(got), len(want))
	for i := 0; i < n; i++ {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %#x (got %#02x, want %#02x); sizes %d vs %d", i, got[i], want[i], len(got), len(want))
		}
	}
	return fmt.Sprintf("sizes %d vs %d, common prefix equal", len(got), len(want))
}
