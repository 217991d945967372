package quantize

import (
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// TestFallbacks checks the row-length fallbacks of llama_tensor_get_type
// (values read off its convert_incompatible_tensor switch): K-quant rows
// that are not a multiple of 256 get Q5_0 / Q5_1 / Q8_0 / IQ4_NL, and F16
// when even 32 does not divide the row.
func TestFallbacks(t *testing.T) {
	m := ModelInfo{Arch: "qwen2", NLayer: 8, NHead: 4, NHeadKV: 4}
	for _, c := range []struct {
		ft   FileType
		name string
		nx   uint64
		want dtype.Type
		fb   bool
	}{
		{MostlyQ4_K_M, "blk.0.attn_q.weight", 128, dtype.Q5_0, true},
		{MostlyQ5_K_S, "blk.0.attn_q.weight", 128, dtype.Q5_1, true},
		{MostlyQ6_K, "blk.0.attn_q.weight", 128, dtype.Q8_0, true},
		{MostlyQ2_K, "blk.0.attn_q.weight", 128, dtype.IQ4_NL, true},
		{MostlyIQ4XS, "blk.0.attn_q.weight", 160, dtype.IQ4_NL, true},
		{MostlyQ4_K_M, "blk.0.attn_q.weight", 48, dtype.F16, true},
		{MostlyQ4_K_M, "blk.0.attn_q.weight", 512, dtype.Q4_K, false},
		{MostlyQ8_0, "blk.0.attn_q.weight", 128, dtype.Q8_0, false},
		{MostlyQ4_K_M, "output.weight", 128, dtype.Q8_0, false}, // output: Q8_0 when the row does not fit Q4_K
		{MostlyQ4_0, "output.weight", 256, dtype.Q6_K, false},
		{MostlyQ3_K_M, "blk.0.attn_output.weight", 256, dtype.Q4_K, false},
		{MostlyQ2_K, "blk.3.attn_output.weight", 256, dtype.Q3_K, false},
	} {
		c0, err := NewChooser(m, c.ft, []string{"output.weight"})
		if err != nil {
			t.Fatal(err)
		}
		got, fb, err := c0.TypeFor(c.name, []uint64{c.nx, 64})
		if err != nil || got != c.want || fb != c.fb {
			t.Errorf("%s %s row %d: %s fallback=%v %v, want %s %v", c.ft, c.name, c.nx, got, fb, err, c.want, c.fb)
		}
	}
}

// TestUseMoreBits: the Q4_K_M ffn_down layers of a 32-layer dense model
// (first/last eighth and every third layer in between), counted by hand
// from use_more_bits.
func TestUseMoreBits(t *testing.T) {
	var got []int
	for i := range 32 {
		if useMoreBits(i, 32) {
			got = append(got, i)
		}
	}
	want := []int{0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

func TestPlanRejectsImatrixMixes(t *testing.T) {
	for _, ft := range []FileType{MostlyIQ2XXS, MostlyIQ1S, MostlyQ2_K_S} {
		if _, err := Plan(ModelInfo{Arch: "llama", NLayer: 1}, nil, ft, PlanOptions{}); err == nil {
			t.Errorf("%s accepted without an importance matrix", ft)
		}
	}
	if _, err := ParseFileType("q9_k"); err == nil {
		t.Error("unknown type accepted")
	}
}
