package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/model"
)

func fixtureModel(t testing.TB, name string) string {
	t.Helper()
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "models", name)
}

// rewrite copies a GGUF, letting edit change each KV value and each tensor's
// type (returning the new type and data; nil data drops the tensor).
func rewrite(t *testing.T, src, dst string, editKV func(key string, v any) any, editTensor func(ti *gguf.TensorInfo, data []byte) (dtype.Type, []byte)) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := gguf.NewWriter(out)
	for _, kv := range f.KVs {
		v := kv.Value
		if a, ok := v.(gguf.Array); ok {
			v = a.Values
		}
		if editKV != nil {
			v = editKV(kv.Key, v)
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	type td struct {
		name string
		data []byte
	}
	var datas []td
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		typ := ti.Type
		if editTensor != nil {
			if typ, data = editTensor(ti, data); data == nil {
				continue
			}
		}
		if err := w.AddTensor(ti.Name, typ, ti.Dims); err != nil {
			t.Fatal(err)
		}
		datas = append(datas, td{ti.Name, data})
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for _, d := range datas {
		if err := w.WriteTensorData(d.name, d.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadUnknownArchitecture(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "gpt2.gguf")
	rewrite(t, fixtureModel(t, "qwen2-tiny-Q8_0.gguf"), dst, func(k string, v any) any {
		if k == "general.architecture" {
			return "gptneox"
		}
		return v
	}, nil)
	_, err := Load(context.Background(), dst, Options{})
	if !errors.Is(err, model.ErrUnsupportedArch) || !strings.Contains(err.Error(), "gptneox") {
		t.Fatalf("err = %v, want ErrUnsupportedArch naming gptneox", err)
	}
}

func TestLoadUnsupportedTensorType(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "iq2.gguf")
	rewrite(t, fixtureModel(t, "qwen2-tiny-F16.gguf"), dst, nil, func(ti *gguf.TensorInfo, data []byte) (dtype.Type, []byte) {
		if ti.Name != "blk.1.attn_q.weight" {
			return ti.Type, data
		}
		n, _ := dtype.IQ2_XXS.RowBytes(int64(ti.Dims[0]))
		return dtype.IQ2_XXS, make([]byte, n*int64(ti.Dims[1]))
	})
	_, err := Load(context.Background(), dst, Options{})
	if err == nil || !strings.Contains(err.Error(), "IQ2_XXS") || !strings.Contains(err.Error(), "blk.1.attn_q.weight") {
		t.Fatalf("err = %v, want an error naming IQ2_XXS and blk.1.attn_q.weight", err)
	}
}

func TestLoadMissingTensor(t *testing.T) {
	dst := filepath.Join(t.TempDir(), "missing.gguf")
	rewrite(t, fixtureModel(t, "ds3-tiny-Q4_K_M.gguf"), dst, func(k string, v any) any {
		if k == "deepseek2.block_count" {
			return uint32(4) // one more layer than the file has tensors for
		}
		return v
	}, nil)
	_, err := Load(context.Background(), dst, Options{})
	if err == nil || !strings.Contains(err.Error(), "blk.3.") {
		t.Fatalf("err = %v, want an error naming a blk.3 tensor", err)
	}
}

func TestLoadTruncatedFile(t *testing.T) {
	src := fixtureModel(t, "ds3-tiny-Q4_K_M.gguf")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{0, 3, 100, len(b) / 2, len(b) - 1} {
		dst := filepath.Join(t.TempDir(), "cut.gguf")
		if err := os.WriteFile(dst, b[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(context.Background(), dst, Options{})
		var fe *gguf.FormatError
		if !errors.As(err, &fe) {
			t.Fatalf("cut at %d: err = %v, want a *gguf.FormatError", cut, err)
		}
	}
}

func TestPromptLongerThanContext(t *testing.T) {
	e, err := Load(context.Background(), fixtureModel(t, "qwen2-tiny-Q8_0.gguf"), Options{CtxSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSequence()
	defer s.Close()
	if _, err := s.Eval(context.Background(), []int32{1, 2, 3}, false); err != nil {
		t.Fatal(err)
	}
	long := make([]int32, 100)
	_, err = s.Eval(context.Background(), long, false)
	if !errors.Is(err, ErrContextFull) {
		t.Fatalf("err = %v, want ErrContextFull", err)
	}
	if s.Len() != 3 || e.Cache.Len(s.id) != 3 {
		t.Fatalf("after a failed eval the sequence holds %d tokens (cache %d), want 3", s.Len(), e.Cache.Len(s.id))
	}
	if _, err := s.Eval(context.Background(), []int32{5000}, false); !errors.Is(err, model.ErrBadBatch) {
		t.Fatalf("out-of-vocabulary id: err = %v, want ErrBadBatch", err)
	}
	if _, err := s.Generate(context.Background(), long, GenerateOptions{}, func(int32) bool { return true }); !errors.Is(err, ErrContextFull) {
		t.Fatalf("Generate with a long prompt: err = %v, want ErrContextFull", err)
	}
	// cancellation between layers leaves the sequence unchanged
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Eval(ctx, []int32{7, 8}, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled eval: err = %v", err)
	}
}
