package gguf

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// shippedModels are the model files models/README.md lists as shipped.
var shippedModels = []string{
	"ds2-lite-tiny-Q4_K_M.gguf", "ds2-lite-tiny-Q4_0.gguf",
	"ds3-tiny-F16.gguf", "ds3-tiny-Q8_0.gguf", "ds3-tiny-Q4_K_M.gguf",
	"qwen2-tiny-F16.gguf", "qwen2-tiny-Q8_0.gguf", "qwen2-tiny-Q4_K_M.gguf",
	"llama-tiny-F16.gguf", "llama-tiny-Q8_0.gguf", "llama-tiny-Q4_K_M.gguf",
}

// TestMetadataMD checks every shipped model file against models/METADATA.md
// (written by the fixture generator with gguf-py, an independent reader):
// file size, every key (order, type, value; arrays by element type, length
// and first elements), every tensor (order, type, shape) and the type summary.
func TestMetadataMD(t *testing.T) {
	fx := fixturesDir(t)
	md := parseMetadataMD(t, filepath.Join(fx, "models", "METADATA.md"))
	for _, name := range shippedModels {
		t.Run(name, func(t *testing.T) {
			want, ok := md[name]
			if !ok {
				t.Fatalf("%s has no METADATA.md section", name)
			}
			path := filepath.Join(fx, "models", name)
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != want.size {
				t.Errorf("size %d, METADATA.md says %d", st.Size(), want.size)
			}
			f, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			checkMDKeys(t, f, want.keys)
			checkMDTensors(t, f, want)
		})
	}
}

func checkMDKeys(t *testing.T, f *File, keys []mdKey) {
	t.Helper()
	if len(f.KVs) != len(keys) {
		t.Errorf("%d kvs, METADATA.md lists %d", len(f.KVs), len(keys))
	}
	for i, k := range keys {
		if i >= len(f.KVs) {
			break
		}
		kv := f.KVs[i]
		if kv.Key != k.key {
			t.Errorf("kv %d: key %q, want %q", i, kv.Key, k.key)
			continue
		}
		if got, want := kv.TypeName(), strings.ToLower(k.typ); got != want {
			t.Errorf("%s: type %s, want %s", k.key, got, want)
			continue
		}
		if err := compareMDValue(kv, k); err != nil {
			t.Errorf("%s: %v", k.key, err)
		}
	}
}

// compareMDValue compares one value with its METADATA.md rendering.
func compareMDValue(kv KV, k mdKey) error {
	switch v := kv.Value.(type) {
	case string:
		s, err := pyString(k.value)
		if err != nil {
			return err
		}
		if s != v {
			return fmt.Errorf("value %q, want %q", v, s)
		}
	case bool:
		if want := map[bool]string{true: "True", false: "False"}[v]; k.value != want {
			return fmt.Errorf("value %v, METADATA.md %s", v, k.value)
		}
	case float32:
		x, err := strconv.ParseFloat(k.value, 64)
		if err != nil || float64(v) != x {
			return fmt.Errorf("value %v, METADATA.md %s (%v)", v, k.value, err)
		}
	case Array:
		return compareMDArray(v, k.value)
	default:
		i, ok := asInt(v)
		x, err := strconv.ParseInt(k.value, 10, 64)
		if !ok || err != nil || i != x {
			return fmt.Errorf("value %v, METADATA.md %s", v, k.value)
		}
	}
	return nil
}

// compareMDArray checks "len=N first=[...]" against an array value.
func compareMDArray(a Array, s string) error {
	lenPart, firstPart, ok := strings.Cut(s, " first=")
	if !ok || !strings.HasPrefix(lenPart, "len=") {
		return fmt.Errorf("bad array rendering %q", s)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(lenPart, "len="))
	if err != nil {
		return err
	}
	if a.Len() != n {
		return fmt.Errorf("array length %d, want %d", a.Len(), n)
	}
	lits, err := pyLiterals(firstPart)
	if err != nil {
		return err
	}
	if len(lits) == 0 {
		return fmt.Errorf("no first elements in %q", s)
	}
	for i, lit := range lits {
		var got, want string
		switch v := a.Values.(type) {
		case []string:
			got = v[i]
			if want, err = pyString(lit); err != nil {
				return err
			}
		case []int32:
			got, want = strconv.Itoa(int(v[i])), lit
		default:
			return fmt.Errorf("unexpected array type %s", a.TypeName())
		}
		if got != want {
			return fmt.Errorf("element %d is %q, want %q", i, got, want)
		}
	}
	return nil
}

func checkMDTensors(t *testing.T, f *File, want *mdFile) {
	t.Helper()
	if len(f.Tensors) != len(want.tensors) {
		t.Errorf("%d tensors, METADATA.md lists %d", len(f.Tensors), len(want.tensors))
	}
	counts := map[string]int{}
	for i, w := range want.tensors {
		if i >= len(f.Tensors) {
			break
		}
		got := &f.Tensors[i]
		if got.Name != w.name || got.Type.String() != w.typ || !slices.Equal(got.Dims, w.dims) {
			t.Errorf("tensor %d: %s %s %v, want %s %s %v", i, got.Name, got.Type, got.Dims, w.name, w.typ, w.dims)
		}
		counts[got.Type.String()]++
	}
	var parts []string
	for typ, n := range counts {
		parts = append(parts, fmt.Sprintf("%s x%d", typ, n))
	}
	sort.Strings(parts)
	if got := strings.Join(parts, ", "); got != want.summary {
		t.Errorf("type summary %q, METADATA.md %q", got, want.summary)
	}
}
