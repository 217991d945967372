package quantize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestMatchesLlamaQuantize quantizes the fixtures' F16 models and compares
// with the files llama-quantize wrote from them (models/README: made with
// `llama-quantize <F16> <out> <TYPE> 2`, no imatrix): every tensor's type,
// every tensor's bytes, the metadata, and finally the whole file.
func TestMatchesLlamaQuantize(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ family, typ string }{
		{"qwen2-tiny", "Q8_0"}, {"qwen2-tiny", "Q4_K_M"},
		{"llama-tiny", "Q8_0"}, {"llama-tiny", "Q4_K_M"},
		{"ds3-tiny", "Q8_0"}, {"ds3-tiny", "Q4_K_M"},
	} {
		t.Run(c.family+"-"+c.typ, func(t *testing.T) {
			ft, err := ParseFileType(c.typ)
			if err != nil {
				t.Fatal(err)
			}
			in, err := gguf.Open(filepath.Join(dir, "models", c.family+"-F16.gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			var buf bytes.Buffer
			res, err := Write(context.Background(), in, &buf, ft, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			wantPath := filepath.Join(dir, "models", c.family+"-"+c.typ+".gguf")
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			compareGGUF(t, buf.Bytes(), want)
			if res.OutBytes <= 0 || res.InBytes <= res.OutBytes {
				t.Errorf("sizes: in %d out %d", res.InBytes, res.OutBytes)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("file differs from %s (%d vs %d bytes)", wantPath, buf.Len(), len(want))
			}
		})
	}
}

// compareGGUF reports tensor-level differences (type, shape, bytes) and
// metadata differences between got and want.
func compareGGUF(t *testing.T, got, want []byte) {
	t.Helper()
	g, err := gguf.Parse(bytes.NewReader(got), int64(len(got)))
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.Parse(bytes.NewReader(want), int64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Tensors) != len(w.Tensors) {
		t.Fatalf("%d tensors, want %d", len(g.Tensors), len(w.Tensors))
	}
	for i := range w.Tensors {
		wt, gt := &w.Tensors[i], &g.Tensors[i]
		if gt.Name != wt.Name || gt.Type != wt.Type {
			t.Errorf("tensor %d: %s %s, want %s %s", i, gt.Name, gt.Type, wt.Name, wt.Type)
			continue
		}
		gd, _ := g.TensorData(gt)
		wd, _ := w.TensorData(wt)
		if !bytes.Equal(gd, wd) {
			t.Errorf("tensor %s (%s): bytes differ", gt.Name, gt.Type)
		}
	}
	if len(g.KVs) != len(w.KVs) {
		t.Errorf("%d keys, want %d", len(g.KVs), len(w.KVs))
	}
	for i := range min(len(g.KVs), len(w.KVs)) {
		if g.KVs[i].Key != w.KVs[i].Key || g.KVs[i].Type != w.KVs[i].Type {
			t.Errorf("key %d: %s (%s), want %s (%s)", i, g.KVs[i].Key, g.KVs[i].TypeName(), w.KVs[i].Key, w.KVs[i].TypeName())
		}
	}
}
