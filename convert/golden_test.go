package convert

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/kernels"
)

// TestConvertedGolden converts every dsref checkpoint (with the automatic
// output type and with the exact one) and runs the result against
// DeepSeek's reference logits with the tolerance engine/golden_test.go
// TestGoldenDSRef uses (float32 KV cache and activations, max |Δ| 1e-4,
// every argmax).
func TestConvertedGolden(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := fixtures.LoadIndex(filepath.Join(dir, "dsref", "golden", "index.json"), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range dsrefCases {
		out := filepath.Join(t.TempDir(), c.hf+".gguf")
		if _, err := ConvertFile(context.Background(), filepath.Join(dir, "dsref", "hf", c.hf), out, Options{Type: c.typ}); err != nil {
			t.Fatal(err)
		}
		e, err := engine.Load(context.Background(), out, engine.Options{KVF32: true, Precision: kernels.PrecisionF32})
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, gc := range idx.Cases {
			if filepath.Base(gc.Model) != c.hf {
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
			t.Logf("%s %s: max %.2e mean %.2e argmax %d/%d", c.hf, gc.Case, m.MaxAbs, m.MeanAbs, m.ArgmaxAgree, m.N)
			if m.MaxAbs > 1e-4 || m.ArgmaxAgree != m.N {
				t.Errorf("%s %s: max |Δlogit| %.3g (tol 1e-4), argmax %d/%d", c.hf, gc.Case, m.MaxAbs, m.ArgmaxAgree, m.N)
			}
			checked++
		}
		e.Close()
		if checked < 5 {
			t.Errorf("%s: %d golden cases checked, want 5", c.hf, checked)
		}
	}
}
