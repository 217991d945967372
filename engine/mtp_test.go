package engine

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/convert"
	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestMTPLayerIgnored: `dseek convert --mtp` keeps DeepSeek-V3's
// multi-token-prediction layer as a trailing block blk.N (N =
// num_hidden_layers) with block_count = N+1 and nextn_predict_layers = 1.
// dseek used to run that block as a fourth decoder layer (max |Δlogit| 2.24
// against the same checkpoint converted without --mtp). Like llama.cpp
// (n_layer - nextn_predict_layers transformer layers, KV cache for those
// only), the forward pass must skip it: the logits of both conversions must
// be bit-identical, at prefill and at a decode step, and the KV cache must
// cover the main layers only.
func TestMTPLayerIgnored(t *testing.T) {
	src := filepath.Join(fixtures.MustDir(t), "dsref", "hf", "dsv3-tiny-fp8")
	dir := t.TempDir()
	paths := map[bool]string{false: filepath.Join(dir, "plain.gguf"), true: filepath.Join(dir, "mtp.gguf")}
	for keep, p := range paths {
		if _, err := convert.ConvertFile(context.Background(), src, p, convert.Options{KeepMTP: keep}); err != nil {
			t.Fatalf("convert (KeepMTP %v): %v", keep, err)
		}
	}
	open := func(p string) *Engine {
		e, err := Load(context.Background(), p, Options{Threads: 2, CtxSize: 64})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		return e
	}
	plain, mtp := open(paths[false]), open(paths[true])

	if n, _ := mtp.File.Uint("deepseek2.block_count"); n != 4 {
		t.Fatalf("--mtp file has block_count %d, want 4 (fixture changed?)", n)
	}
	pc, mc := plain.Model.Config, mtp.Model.Config
	if pc.NLayer != 3 || mc.NLayer != 3 {
		t.Errorf("main layers: %d without MTP, %d with; want 3 and 3", pc.NLayer, mc.NLayer)
	}
	if pc.NNextN != 0 || mc.NNextN != 1 || mc.BlockCount() != 4 {
		t.Errorf("NNextN %d / %d, BlockCount %d; want 0 / 1, 4", pc.NNextN, mc.NNextN, mc.BlockCount())
	}
	for _, typ := range []dtype.Type{dtype.F16, dtype.F32} {
		if a, b := plain.Model.KVBytesPerToken(typ), mtp.Model.KVBytesPerToken(typ); a != b {
			t.Errorf("KV bytes per token (%s): %d without MTP, %d with", typ, a, b)
		}
	}
	if a, b := plain.Cache.Config().NLayer, mtp.Cache.Config().NLayer; a != b {
		t.Errorf("KV cache layers: %d without MTP, %d with", a, b)
	}
	if d := mtp.Model.Describe(); !strings.Contains(d, "MTP") {
		t.Errorf("Describe %q does not mention the MTP layer", d)
	}

	// Prefill over a few token ids (BOS, bytes, merges, added tokens), then
	// one decode step on the cached sequence.
	prompt := []int32{0, 72, 101, 259, 400, 999, 1007, 1012, 1013, 1023}
	next := []int32{300}
	eval := func(e *Engine) (pre, dec []float32) {
		s := e.NewSequence()
		defer s.Close()
		pre, err := s.Eval(context.Background(), prompt, true)
		if err != nil {
			t.Fatal(err)
		}
		d, err := s.Eval(context.Background(), next, true)
		if err != nil {
			t.Fatal(err)
		}
		return pre, append([]float32(nil), d...)
	}
	p0, p1 := eval(plain)
	m0, m1 := eval(mtp)
	nv := pc.NVocab
	for _, c := range []struct {
		name      string
		want, got []float32
	}{{"prefill", p0, m0}, {"decode", p1, m1}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %d logits with MTP, %d without", c.name, len(c.got), len(c.want))
		}
		maxAbs, diff, first := 0.0, 0, -1
		for i := range c.want {
			if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
				diff++
				if first < 0 {
					first = i
				}
				maxAbs = max(maxAbs, math.Abs(float64(c.got[i])-float64(c.want[i])))
			}
		}
		if diff > 0 {
			t.Errorf("%s: %d of %d logits differ with the MTP layer present, max |Δlogit| %.4g (first at position %d, id %d)",
				c.name, diff, len(c.want), maxAbs, first/nv, first%nv)
		}
	}
}
