package convert

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// dsrefCases are the dsref checkpoints and the GGUF the fixture README says
// they convert to exactly (FP8 dequantized to BF16; the V2 models to F16).
var dsrefCases = []struct{ hf, gguf, typ, name string }{
	{"dsv3-tiny-fp8", "dsv3-tiny-BF16.gguf", "bf16", "dsv3-tiny"},
	{"dsv2-tiny-bf16", "dsv2-tiny-F16.gguf", "f16", "dsv2-tiny"},
	{"dsv2-lite-tiny-bf16", "dsv2-lite-tiny-F16.gguf", "f16", "dsv2-lite-tiny"},
}

func convertToBytes(t *testing.T, dir string, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Convert(context.Background(), dir, &buf, opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestDSRefExact converts every dsref checkpoint and compares the result
// with the dsref GGUF key by key (type and value) and tensor by tensor
// (type, shape and every byte).
func TestDSRefExact(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dsrefCases {
		t.Run(c.hf, func(t *testing.T) {
			got := convertToBytes(t, filepath.Join(dir, "dsref", "hf", c.hf), Options{Type: c.typ, Name: c.name})
			g, err := gguf.Parse(bytes.NewReader(got), int64(len(got)))
			if err != nil {
				t.Fatal(err)
			}
			w, err := gguf.Open(filepath.Join(dir, "dsref", "gguf", c.gguf))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			compareKVs(t, g, w)
			compareTensors(t, g, w)
		})
	}
}

func compareKVs(t *testing.T, g, w *gguf.File) {
	t.Helper()
	if len(g.KVs) != len(w.KVs) {
		t.Errorf("%d keys, want %d", len(g.KVs), len(w.KVs))
	}
	for _, wk := range w.KVs {
		gk, ok := g.Lookup(wk.Key)
		if !ok {
			t.Errorf("key %s missing", wk.Key)
			continue
		}
		if gk.Type != wk.Type || !reflect.DeepEqual(gk.Value, wk.Value) {
			t.Errorf("key %s: %s %s, want %s %s", wk.Key, gk.TypeName(), short(gk.Value), wk.TypeName(), short(wk.Value))
		}
	}
	for _, gk := range g.KVs {
		if _, ok := w.Lookup(gk.Key); !ok {
			t.Errorf("extra key %s", gk.Key)
		}
	}
}

func short(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

func compareTensors(t *testing.T, g, w *gguf.File) {
	t.Helper()
	if len(g.Tensors) != len(w.Tensors) {
		t.Errorf("%d tensors, want %d", len(g.Tensors), len(w.Tensors))
	}
	for i := range w.Tensors {
		wt := &w.Tensors[i]
		gt, ok := g.Tensor(wt.Name)
		if !ok {
			t.Errorf("tensor %s missing", wt.Name)
			continue
		}
		if gt.Type != wt.Type || !reflect.DeepEqual(gt.Dims, wt.Dims) {
			t.Errorf("tensor %s: %s %v, want %s %v", wt.Name, gt.Type, gt.Dims, wt.Type, wt.Dims)
			continue
		}
		gd, err := g.TensorData(gt)
		if err != nil {
			t.Fatal(err)
		}
		wd, err := w.TensorData(wt)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(gd, wd) {
			t.Errorf("tensor %s (%s %v): bytes differ", wt.Name, wt.Type, wt.Dims)
		}
	}
}
