package gguf

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitPathNames(t *testing.T) {
	if got := SplitPath("dir/m", 0, 3); got != "dir/m-00001-of-00003.gguf" {
		t.Errorf("SplitPath = %q", got)
	}
	cases := []struct {
		path   string
		prefix string
		index  int
		count  int
		ok     bool
	}{
		{"dir/m-00002-of-00003.gguf", "dir/m", 1, 3, true},
		{"a-b-00001-of-00001.gguf", "a-b", 0, 1, true},
		{"m-00004-of-00003.gguf", "", 0, 0, false},
		{"m-00000-of-00003.gguf", "", 0, 0, false},
		{"m-0001-of-00003.gguf", "", 0, 0, false},
		{"m-00001-of-00003.bin", "", 0, 0, false},
		{"m.gguf", "", 0, 0, false},
		{"m-0000x-of-00003.gguf", "", 0, 0, false},
	}
	for _, c := range cases {
		p, i, n, ok := ParseSplitPath(c.path)
		if p != c.prefix || i != c.index || n != c.count || ok != c.ok {
			t.Errorf("ParseSplitPath(%q) = %q %d %d %v", c.path, p, i, n, ok)
		}
	}
}

// writeSplitParts writes src as len(groups) parts named prefix-%05d-of-%05d.gguf
// the way llama.cpp's gguf-split does: part 1 carries all metadata, every part
// carries split.no, split.count and split.tensors.count, groups[i] lists the
// tensor indices of part i. edit, if non-nil, may change a part's extra KVs.
func writeSplitParts(t *testing.T, src *File, prefix string, groups [][]int, edit func(part int, kvs map[string]any)) []string {
	t.Helper()
	var paths []string
	for i, g := range groups {
		split := map[string]any{
			KeySplitNo:           uint16(i),
			KeySplitCount:        uint16(len(groups)),
			KeySplitTensorsCount: int32(len(src.Tensors)),
		}
		if edit != nil {
			edit(i, split)
		}
		var buf bytes.Buffer
		w := NewWriter(&buf)
		if i == 0 {
			for _, kv := range src.KVs {
				if err := w.AddKV(kv.Key, kv.Value); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, k := range []string{KeySplitNo, KeySplitCount, KeySplitTensorsCount} {
			if v, ok := split[k]; ok {
				if err := w.AddKV(k, v); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, j := range g {
			ti := src.Tensors[j]
			if err := w.AddTensor(ti.Name, ti.Type, ti.Dims); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.WriteHeader(); err != nil {
			t.Fatal(err)
		}
		for _, j := range g {
			data, err := src.TensorData(&src.Tensors[j])
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteTensorData(src.Tensors[j].Name, data); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		p := SplitPath(prefix, i, len(groups))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

func openSrc(t *testing.T) *File {
	t.Helper()
	src, err := Open(filepath.Join(fixturesDir(t), "models", "ds3-tiny-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

func threeGroups(n int) [][]int {
	g := make([][]int, 3)
	for i := 0; i < n; i++ {
		g[i*3/n] = append(g[i*3/n], i)
	}
	return g
}

// TestSplitOpen writes a fixture as 3 parts and opens part 1 and part 2 (with
// and without mmap): metadata comes from part 1, the tensor list is the union
// in order, each tensor knows its part, and every tensor's bytes equal the
// original's.
func TestSplitOpen(t *testing.T) {
	src := openSrc(t)
	dir := t.TempDir()
	groups := threeGroups(len(src.Tensors))
	paths := writeSplitParts(t, src, filepath.Join(dir, "ds3"), groups, nil)
	for _, opt := range []Options{{}, {NoMmap: true}} {
		for _, open := range paths[:2] {
			f, err := OpenWith(open, opt)
			if err != nil {
				t.Fatal(err)
			}
			if f.Path != paths[0] {
				t.Errorf("Path %q, want part 1 %q", f.Path, paths[0])
			}
			if len(f.KVs) != len(src.KVs)+3 || !reflect.DeepEqual(f.KVs[:len(src.KVs)], src.KVs) {
				t.Errorf("metadata differs from the source")
			}
			if len(f.Tensors) != len(src.Tensors) {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(src.Tensors))
			}
			for i := range f.Tensors {
				got, want := &f.Tensors[i], &src.Tensors[i]
				if got.Name != want.Name || got.Type != want.Type || !reflect.DeepEqual(got.Dims, want.Dims) || got.Size != want.Size {
					t.Fatalf("tensor %d: %+v, want %+v", i, got, want)
				}
				if wantSplit := i * 3 / len(src.Tensors); got.Split != wantSplit {
					t.Errorf("tensor %s in part %d, want %d", got.Name, got.Split, wantSplit)
				}
				a, err := f.TensorData(got)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := src.TensorData(want)
				if !bytes.Equal(a, b) {
					t.Fatalf("tensor %s: bytes differ", got.Name)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestSplitErrors covers a missing part, inconsistent split keys, a wrong
// split.tensors.count, a tensor present in two parts and a part whose name
// does not follow the naming scheme.
func TestSplitErrors(t *testing.T) {
	src := openSrc(t)
	n := len(src.Tensors)
	cases := []struct {
		name   string
		groups [][]int
		edit   func(int, map[string]any)
		prep   func(paths []string) string // returns the path to open
		want   string
	}{
		{"missing part", threeGroups(n), nil, func(p []string) string {
			os.Remove(p[2])
			return p[0]
		}, "split part 3 of 3"},
		{"wrong count", threeGroups(n), func(i int, kv map[string]any) {
			if i == 1 {
				kv[KeySplitCount] = uint16(4)
			}
		}, nil, "expected split part 2 of 3, its keys say part 2 of 4"},
		{"wrong no", threeGroups(n), func(i int, kv map[string]any) {
			if i == 2 {
				kv[KeySplitNo] = uint16(1)
			}
		}, nil, "expected split part 3 of 3, its keys say part 2 of 3"},
		{"tensor total", threeGroups(n), func(i int, kv map[string]any) {
			kv[KeySplitTensorsCount] = int32(n + 1)
		}, nil, "split.tensors.count"},
		{"duplicate tensor", [][]int{{0, 1}, {1, 2}, {3}}, func(i int, kv map[string]any) {
			kv[KeySplitTensorsCount] = int32(5)
		}, nil, `tensor "` + src.Tensors[1].Name + `" appears in split part 1 and again in part 2`},
		{"bad name", threeGroups(n), nil, func(p []string) string {
			q := filepath.Join(filepath.Dir(p[0]), "renamed.gguf")
			os.Rename(p[0], q)
			return q
		}, "name does not follow"},
		{"no past count", threeGroups(n), func(i int, kv map[string]any) {
			if i == 0 {
				kv[KeySplitNo] = uint16(3)
			}
		}, nil, "split.no = 3 but split.count = 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			paths := writeSplitParts(t, src, filepath.Join(t.TempDir(), "m"), c.groups, c.edit)
			open := paths[0]
			if c.prep != nil {
				open = c.prep(paths)
			}
			f, err := Open(open)
			if err == nil {
				f.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "none.gguf"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want ErrNotExist", err)
	}
}
