package quantize

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/kernels"
)

// Quantized-file tiers of ../shared/fixtures/README.md ("Suggested test
// tiers"), as engine/golden_test.go uses them.
const (
	quantMeanLen9 = 0.3
	quantMeanLong = 0.5
	quantArgmax   = 0.70
)

// TestQuantizedLogits quantizes the F16 fixtures with File and runs the
// results against llama.cpp's golden logits of the same family and type.
// (ds3-tiny's quantized goldens are outside these tiers for dseek's engine
// on llama-quantize's own files too, see TestQuantizedDS3SameLogits.)
func TestQuantizedLogits(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := fixtures.LoadIndex(filepath.Join(dir, "golden", "index.json"), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ family, typ string }{{"qwen2-tiny", "Q4_K_M"}, {"qwen2-tiny", "Q8_0"}, {"llama-tiny", "Q4_K_M"}, {"llama-tiny", "Q8_0"}} {
		ft, _ := ParseFileType(c.typ)
		out := filepath.Join(t.TempDir(), c.family+"-"+c.typ+".gguf")
		res, err := File(context.Background(), filepath.Join(dir, "models", c.family+"-F16.gguf"), out, ft, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range res.Choices {
			if ch.Convert && !ch.NewType.IsQuantized() {
				t.Errorf("%s: tensor %s converted to %s", c.family, ch.Name, ch.NewType)
			}
		}
		e, err := engine.Load(context.Background(), out, engine.Options{Precision: kernels.PrecisionGGML})
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, gc := range idx.Cases {
			if gc.Family != c.family || gc.Quant != c.typ || (gc.Case != "len9" && gc.Case != "len64") {
				continue
			}
			g, err := fixtures.LoadGolden(gc.JSON)
			if err != nil {
				t.Fatal(err)
			}
			want, err := fixtures.LoadLogits(gc.Logits, gc.NPositions, gc.NVocab)
			if err != nil {
				t.Fatal(err)
			}
			s := e.NewSequence()
			got, err := s.Eval(context.Background(), g.InputIDs, true)
			s.Close()
			if err != nil {
				t.Fatal(err)
			}
			m := fixtures.Compare(got, want, gc.NPositions, gc.NVocab)
			tol := quantMeanLong
			if gc.Case == "len9" {
				tol = quantMeanLen9
			}
			t.Logf("%s-%s %s: mean %.4f max %.3f argmax %d/%d", c.family, c.typ, gc.Case, m.MeanAbs, m.MaxAbs, m.ArgmaxAgree, m.N)
			if m.MeanAbs > tol || float64(m.ArgmaxAgree)/float64(m.N) < quantArgmax {
				t.Errorf("%s-%s %s: mean |Δ| %.4f (tol %.2f), argmax %d/%d", c.family, c.typ, gc.Case, m.MeanAbs, tol, m.ArgmaxAgree, m.N)
			}
			checked++
		}
		e.Close()
		if checked != 2 {
			t.Errorf("%s-%s: %d golden cases checked, want 2", c.family, c.typ, checked)
		}
	}
}

// TestQuantizedDS3SameLogits checks that dseek's Q4_K_M of ds3-tiny gives
// the engine exactly the logits of llama-quantize's Q4_K_M file.
func TestQuantizedDS3SameLogits(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "ds3.gguf")
	if _, err := File(context.Background(), filepath.Join(dir, "models", "ds3-tiny-F16.gguf"), out, MostlyQ4_K_M, Options{}); err != nil {
		t.Fatal(err)
	}
	ids := []int32{1, 20, 300, 4000 % 1033, 7, 1016, 99}
	var logits [2][]float32
	for i, p := range []string{out, filepath.Join(dir, "models", "ds3-tiny-Q4_K_M.gguf")} {
		e, err := engine.Load(context.Background(), p, engine.Options{Precision: kernels.PrecisionGGML})
		if err != nil {
			t.Fatal(err)
		}
		s := e.NewSequence()
		logits[i], err = s.Eval(context.Background(), ids, true)
		s.Close()
		e.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	m := fixtures.Compare(logits[0], logits[1], len(ids), len(logits[0])/len(ids))
	if m.MaxAbs != 0 {
		t.Errorf("logits differ from llama-quantize's file: max |Δ| %g", m.MaxAbs)
	}
}
