package synth

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quant"
	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/tokenizer"
)

func mustShape(t *testing.T, name string) Shape {
	t.Helper()
	s, err := LookupShape(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func typeOf(t *testing.T, plan []TensorSpec, name string) dtype.Type {
	t.Helper()
	for _, ts := range plan {
		if ts.Name == name {
			return ts.Type
		}
	}
	t.Fatalf("tensor %s not planned", name)
	return 0
}

// TestRealShapeTypes checks type choices on the full-size shapes against a
// table derived by hand from llama_tensor_get_type (use_more_bits(i, n) =
// i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2; fallbacks when ne0 % 256 != 0).
func TestRealShapeTypes(t *testing.T) {
	type want struct {
		name string
		t    dtype.Type
	}
	cases := []struct {
		shape string
		ft    quantize.FileType
		want  []want
	}{
		// V2-Lite, 27 layers: n/8 = 3, 7n/8 = 23. Expert FFN 1408 and dense FFN
		// 10944 are not multiples of 256: Q6_K -> Q8_0, Q4_K -> Q5_0.
		{"deepseek-v2-lite", quantize.MostlyQ4_K_M, []want{
			{"token_embd.weight", dtype.Q4_K}, {"output.weight", dtype.Q6_K}, {"output_norm.weight", dtype.F32},
			{"blk.0.ffn_down.weight", dtype.Q8_0}, {"blk.0.ffn_gate.weight", dtype.Q4_K},
			{"blk.1.ffn_down_exps.weight", dtype.Q8_0}, {"blk.1.ffn_down_shexp.weight", dtype.Q6_K},
			{"blk.3.ffn_down_exps.weight", dtype.Q5_0}, {"blk.4.ffn_down_exps.weight", dtype.Q5_0},
			{"blk.5.ffn_down_exps.weight", dtype.Q8_0}, {"blk.5.ffn_down_shexp.weight", dtype.Q6_K},
			{"blk.6.ffn_down_shexp.weight", dtype.Q4_K}, {"blk.23.ffn_down_exps.weight", dtype.Q8_0},
			{"blk.22.ffn_down_exps.weight", dtype.Q5_0}, {"blk.26.ffn_down_exps.weight", dtype.Q8_0},
			{"blk.4.ffn_gate_exps.weight", dtype.Q4_K}, {"blk.4.ffn_up_exps.weight", dtype.Q4_K},
			{"blk.4.ffn_gate_inp.weight", dtype.F32}, {"blk.4.attn_output.weight", dtype.Q4_K},
			{"blk.4.attn_kv_b.weight", dtype.Q4_K}, {"blk.4.attn_kv_a_mqa.weight", dtype.Q4_K},
			{"blk.4.attn_q.weight", dtype.Q4_K}, {"blk.4.attn_kv_a_norm.weight", dtype.F32},
		}},
		{"deepseek-v2-lite", quantize.MostlyQ8_0, []want{
			{"output.weight", dtype.Q8_0}, {"blk.0.ffn_down.weight", dtype.Q8_0}, {"blk.4.ffn_down_exps.weight", dtype.Q8_0},
			{"blk.4.ffn_gate_inp.weight", dtype.F32},
		}},
		{"deepseek-v2-lite", quantize.MostlyQ6_K, []want{{"blk.4.ffn_down_exps.weight", dtype.Q8_0}, {"blk.4.attn_q.weight", dtype.Q6_K}}},
		{"deepseek-v2-lite", quantize.MostlyQ5_K_M, []want{
			{"blk.4.ffn_down_exps.weight", dtype.Q5_1}, {"blk.5.ffn_down_exps.weight", dtype.Q8_0}, {"blk.4.ffn_up_exps.weight", dtype.Q5_K},
		}},
		{"deepseek-v2-lite", quantize.MostlyQ2_K, []want{
			{"blk.4.ffn_down_exps.weight", dtype.IQ4_NL}, {"blk.4.ffn_up_exps.weight", dtype.Q2_K},
			{"blk.4.attn_output.weight", dtype.Q3_K}, {"output.weight", dtype.Q6_K},
		}},
		// Qwen 1.5B, 28 layers: n/8 = 3, 7n/8 = 24; more bits at 0-2, 5, 8, ..., 23, 24-27.
		{"r1-distill-qwen-1.5b", quantize.MostlyQ4_K_M, []want{
			{"blk.0.attn_v.weight", dtype.Q6_K}, {"blk.3.attn_v.weight", dtype.Q4_K}, {"blk.5.attn_v.weight", dtype.Q6_K},
			{"blk.23.attn_v.weight", dtype.Q6_K}, {"blk.22.attn_v.weight", dtype.Q4_K}, {"blk.24.attn_v.weight", dtype.Q6_K},
			{"blk.5.ffn_down.weight", dtype.Q6_K}, {"blk.6.ffn_down.weight", dtype.Q4_K},
			{"blk.6.attn_k.weight", dtype.Q4_K}, {"blk.6.attn_output.weight", dtype.Q4_K}, {"blk.6.attn_q.bias", dtype.F32},
			{"token_embd.weight", dtype.Q4_K}, {"output.weight", dtype.Q6_K},
		}},
		{"r1-distill-qwen-1.5b", quantize.MostlyQ4_K_S, []want{
			{"blk.3.attn_v.weight", dtype.Q5_K}, {"blk.4.attn_v.weight", dtype.Q4_K},
			{"blk.2.ffn_down.weight", dtype.Q5_K}, {"blk.3.ffn_down.weight", dtype.Q4_K},
		}},
		{"r1-distill-qwen-1.5b", quantize.MostlyQ3_K_M, []want{
			{"blk.1.attn_v.weight", dtype.Q5_K}, {"blk.2.attn_v.weight", dtype.Q4_K},
			{"blk.0.ffn_down.weight", dtype.Q5_K}, {"blk.1.ffn_down.weight", dtype.Q4_K},
			{"blk.1.attn_output.weight", dtype.Q4_K}, {"blk.1.ffn_up.weight", dtype.Q3_K},
		}},
		{"r1-distill-qwen-1.5b", quantize.MostlyQ2_K, []want{
			{"blk.1.attn_v.weight", dtype.Q4_K}, {"blk.1.ffn_down.weight", dtype.Q3_K}, {"blk.1.ffn_up.weight", dtype.Q2_K},
		}},
		{"r1-distill-qwen-1.5b", quantize.MostlyQ4_0, []want{{"output.weight", dtype.Q6_K}, {"blk.1.ffn_down.weight", dtype.Q4_0}}},
		{"r1-distill-qwen-1.5b", quantize.MostlyBF16, []want{{"output.weight", dtype.BF16}, {"blk.1.attn_q.bias", dtype.F32}}},
		// Llama 8B: 32 layers, GQA 4 (Q2_K attn_v -> Q4_K), rope_freqs F32.
		{"r1-distill-llama-8b", quantize.MostlyQ2_K, []want{{"blk.9.attn_v.weight", dtype.Q4_K}, {"rope_freqs.weight", dtype.F32}}},
		// 32 layers: n/8 = 4, 7n/8 = 28; more bits at 0-3, 6, 9, ..., 27, 28-31.
		{"r1-distill-llama-8b", quantize.MostlyQ5_K_M, []want{
			{"blk.3.attn_v.weight", dtype.Q6_K}, {"blk.4.attn_v.weight", dtype.Q5_K}, {"blk.6.attn_v.weight", dtype.Q6_K},
			{"blk.27.ffn_down.weight", dtype.Q6_K}, {"blk.26.ffn_down.weight", dtype.Q5_K},
		}},
		// V3: 61 layers, n/8 = 7, 7n/8 = 53.
		{"deepseek-v3", quantize.MostlyQ4_K_M, []want{
			{"blk.3.ffn_down_exps.weight", dtype.Q6_K}, {"blk.7.ffn_down_exps.weight", dtype.Q4_K},
			{"blk.9.ffn_down_exps.weight", dtype.Q6_K}, {"blk.3.exp_probs_b.bias", dtype.F32},
			{"blk.3.attn_q_a.weight", dtype.Q4_K}, {"blk.3.attn_q_a_norm.weight", dtype.F32},
		}},
	}
	for _, c := range cases {
		s := mustShape(t, c.shape)
		plan, err := Plan(&s, c.ft)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if got := typeOf(t, plan, w.name); got != w.t {
				t.Errorf("%s %s: %s is %s, want %s", c.shape, c.ft, w.name, got, w.t)
			}
		}
	}
}

// TestRealShapeSizes checks parameter counts against the published totals
// and the size labels gguf-py derives from them.
func TestRealShapeSizes(t *testing.T) {
	cases := []struct {
		shape   string
		params  int64 // elements of all converted tensors
		label   string
		tensors int
	}{
		{"r1-distill-qwen-1.5b", 1777088000, "1.8B", 3 + 28*12},
		{"r1-distill-llama-8b", 8030261312, "8.0B", 4 + 32*9},
		// dense deepseek2 layer: 2 norms + 5 (V2-Lite) or 7 (V3) attention + 3 FFN;
		// MoE layer: + router (+ exp_probs_b) + 3 expert + 3 shared tensors.
		{"deepseek-v2-lite", 15706484224, "64x1.5B", 3 + 1*10 + 26*14},
		{"deepseek-v3", 671026419200, "256x20B", 3 + 3*12 + 58*17},
	}
	for _, c := range cases {
		s := mustShape(t, c.shape)
		plan, err := Plan(&s, quantize.MostlyQ4_K_M)
		if err != nil {
			t.Fatal(err)
		}
		total, shared, expert, n := ParamCounts(plan)
		if total != c.params || len(plan) != c.tensors {
			t.Errorf("%s: %d params in %d tensors, want %d in %d", c.shape, total, len(plan), c.params, c.tensors)
		}
		if l := SizeLabel(total, shared, expert, n); l != c.label {
			t.Errorf("%s: size label %q, want %q", c.shape, l, c.label)
		}
	}
}

func TestWithLayers(t *testing.T) {
	v3 := mustShape(t, "deepseek-v3")
	for _, c := range []struct{ n, dense int }{{1, 0}, {2, 1}, {4, 1}, {20, 1}, {30, 1}, {40, 2}, {61, 3}} {
		s, err := v3.WithLayers(c.n)
		if err != nil {
			t.Fatal(err)
		}
		if s.NLayer != c.n || s.NDenseLead != c.dense {
			t.Errorf("V3 --layers %d: %d layers, %d dense; want %d dense", c.n, s.NLayer, s.NDenseLead, c.dense)
		}
	}
	if s, _ := v3.WithLayers(4); s.LlamaCppWarning() != "" {
		t.Errorf("4-layer V3 flagged: %s", s.LlamaCppWarning())
	}
	if s, _ := v3.WithLayers(27); s.LlamaCppWarning() == "" {
		t.Error("27-layer V3 (taken for V2-Lite by llama.cpp) not flagged")
	}
	lite := mustShape(t, "deepseek-v2-lite")
	if s, _ := lite.WithLayers(4); s.LlamaCppWarning() == "" || lite.LlamaCppWarning() != "" {
		t.Error("V2-Lite llama.cpp compatibility misjudged")
	}
	if _, err := v3.WithLayers(62); err == nil {
		t.Error("62 layers of V3 accepted")
	}
	if _, err := v3.WithLayers(0); err == nil {
		t.Error("0 layers accepted")
	}
}

func TestLookupShape(t *testing.T) {
	if _, err := LookupShape("deepseek-v9"); err == nil {
		t.Error("bad shape accepted")
	}
	if s, err := LookupShape("DeepSeek-V2-Lite"); err != nil || s.NLayer != 27 {
		t.Errorf("LookupShape is not case-insensitive: %v", err)
	}
}

// TestVocabBuild checks the synthetic vocabulary: real size, unique texts,
// specials at their ids, a valid BPE merge list, and that dseek's tokenizer
// round-trips text through it.
func TestVocabBuild(t *testing.T) {
	for _, name := range ShapeNames() {
		s := mustShape(t, name)
		v := s.Vocab
		toks, types, merges, err := v.Build()
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != v.Size || len(types) != v.Size || len(merges) != v.NormalEnd-v.NormalStart-256 {
			t.Fatalf("%s: %d tokens %d types %d merges", name, len(toks), len(types), len(merges))
		}
		idx := map[string]int{}
		for i, tk := range toks {
			if j, dup := idx[tk]; dup {
				t.Fatalf("%s: token %q at %d and %d", name, tk, j, i)
			}
			idx[tk] = i
		}
		for _, m := range merges {
			a, b, ok := strings.Cut(m, " ")
			if _, okA := idx[a]; !ok || !okA {
				t.Fatalf("%s: merge %q: left half is not a token", name, m)
			}
			if _, okB := idx[b]; !okB {
				t.Fatalf("%s: merge %q: right half is not a token", name, m)
			}
			if _, okAB := idx[a+b]; !okAB {
				t.Fatalf("%s: merge %q: result is not a token", name, m)
			}
		}
		if toks[v.BOS] != "<｜begin▁of▁sentence｜>" || toks[v.EOS] != "<｜end▁of▁sentence｜>" {
			t.Errorf("%s: BOS %q EOS %q", name, toks[v.BOS], toks[v.EOS])
		}
		addBOS := true
		tv := tokenizer.Vocab{Model: "gpt2", Pre: v.Pre, Tokens: toks, Merges: merges, AddBOS: &addBOS,
			SpecialIDs: map[string]int32{tokenizer.SpecialBOS: v.BOS, tokenizer.SpecialEOS: v.EOS}}
		tv.Types = make([]tokenizer.TokenType, len(types))
		for i, x := range types {
			tv.Types[i] = tokenizer.TokenType(x)
		}
		tk, err := tokenizer.New(tv)
		if err != nil {
			t.Fatalf("%s: dseek tokenizer rejects the vocabulary: %v", name, err)
		}
		text := "Hello, world! 12345 déjà vu <think>"
		ids := tk.Encode(text, true, true)
		if ids[0] != v.BOS {
			t.Errorf("%s: first id %d, want BOS %d", name, ids[0], v.BOS)
		}
		if got := string(tk.Decode(ids[1:], true)); got != text {
			t.Errorf("%s: round trip %q -> %q", name, text, got)
		}
	}
}

// tinyShapes are small versions of each architecture for write/load tests.
func tinyShapes(t *testing.T) []Shape {
	small := func(s Shape) Shape {
		s.NEmbd, s.NFF, s.NCtx = 256, 512, 512
		v := s.Vocab
		v.Size, v.NormalStart, v.NormalEnd = 600, 3, 580
		v.BOS, v.EOS, v.PAD = 0, 1, 1
		v.Specials = []SpecialToken{control(0, "<｜begin▁of▁sentence｜>"), control(1, "<｜end▁of▁sentence｜>"), control(2, "<｜▁pad▁｜>")}
		s.Vocab = v
		return s
	}
	qw := small(mustShape(t, "r1-distill-qwen-1.5b"))
	qw.NHead, qw.NHeadKV, qw.NLayer = 4, 2, 2
	ll := small(mustShape(t, "r1-distill-llama-8b"))
	ll.NHead, ll.NHeadKV, ll.NLayer = 4, 2, 2
	v2 := small(mustShape(t, "deepseek-v2-lite"))
	v2.NHead, v2.NHeadKV, v2.KVLoraRank, v2.QKNope, v2.QKRope, v2.VHead = 2, 2, 256, 32, 32, 64
	v2.NExpert, v2.NExpertUsed, v2.NFFExpert, v2.NLayer, v2.NDenseLead = 8, 2, 160, 2, 1
	v3 := small(mustShape(t, "deepseek-v3"))
	v3.NHead, v3.NHeadKV, v3.QLoraRank, v3.KVLoraRank, v3.QKNope, v3.QKRope, v3.VHead = 2, 2, 256, 256, 32, 32, 64
	v3.NExpert, v3.NExpertUsed, v3.NFFExpert, v3.NGroup, v3.NGroupUsed, v3.NLayer, v3.NDenseLead = 16, 4, 256, 4, 2, 2, 1
	return []Shape{qw, ll, v2, v3}
}

// TestWriteLoadsAndRuns writes tiny models of every architecture, reads them
// back with the GGUF reader, checks tensors and metadata against the plan,
// the value statistics against WeightStd, and runs them in dseek's engine
// (logits must be finite).
func TestWriteLoadsAndRuns(t *testing.T) {
	dir := t.TempDir()
	sh := tinyShapes(t) // qwen2, llama, V2-Lite-like, V3-like
	cases := []struct {
		s     Shape
		ft    quantize.FileType
		exact bool
	}{
		{sh[0], quantize.MostlyQ4_K_M, false}, {sh[0], quantize.MostlyF16, false}, {sh[1], quantize.MostlyQ8_0, true},
		{sh[1], quantize.MostlyBF16, false}, {sh[2], quantize.MostlyQ4_K_M, false}, {sh[3], quantize.MostlyQ4_K_M, false},
		{sh[3], quantize.MostlyQ8_0, true},
	}
	for _, c := range cases {
		path := filepath.Join(dir, c.s.Name+"-"+c.ft.String()+".gguf")
		res, err := WriteFile(context.Background(), path, Options{Shape: c.s, Type: c.ft, Seed: 7, Exact: c.exact, Threads: 2})
		if err != nil {
			t.Fatalf("%s %s: %v", c.s.Name, c.ft, err)
		}
		checkFile(t, path, &c.s, c.ft, res)
		runEngine(t, path)
	}
}

func checkFile(t *testing.T, path string, s *Shape, ft quantize.FileType, res *Result) {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != len(res.Tensors) {
		t.Fatalf("%s: %d tensors, planned %d", path, len(f.Tensors), len(res.Tensors))
	}
	for i := range f.Tensors {
		if f.Tensors[i].Name != res.Tensors[i].Name || f.Tensors[i].Type != res.Tensors[i].Type {
			t.Errorf("%s: tensor %d is %s %s, planned %s %s", path, i, f.Tensors[i].Name, f.Tensors[i].Type, res.Tensors[i].Name, res.Tensors[i].Type)
		}
	}
	if v, err := f.Uint("general.file_type"); err != nil || quantize.FileType(v) != ft {
		t.Errorf("%s: general.file_type %d %v", path, v, err)
	}
	last := f.KVs[len(f.KVs)-1].Key
	if Quantized(ft) && last != "general.file_type" {
		t.Errorf("%s: last key %s, want general.file_type (llama-quantize re-adds it)", path, last)
	}
	if a, _ := f.String("general.architecture"); a != s.Arch {
		t.Errorf("%s: architecture %q", path, a)
	}
	// Value statistics of the largest weight: mean ~ 0, std ~ WeightStd.
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		if ti.Name != "token_embd.weight" {
			continue
		}
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		vals := make([]float32, ti.NumElements())
		if err := quant.Dequantize(ti.Type, data, vals); err != nil {
			t.Fatal(err)
		}
		var sum, sq float64
		distinct := map[float32]bool{}
		for _, v := range vals {
			sum += float64(v)
			sq += float64(v) * float64(v)
			distinct[v] = true
		}
		mean := sum / float64(len(vals))
		std := math.Sqrt(sq/float64(len(vals)) - mean*mean)
		if math.Abs(mean) > 0.002 || math.Abs(std-WeightStd)/WeightStd > 0.1 {
			t.Errorf("%s: token_embd mean %.5f std %.5f, want ~0 and ~%.3f", path, mean, std, WeightStd)
		}
		if len(distinct) < 64 {
			t.Errorf("%s: token_embd has only %d distinct values", path, len(distinct))
		}
		rb, _ := ti.Type.RowBytes(int64(ti.Dims[0]))
		if bytes.Equal(data[:rb], data[rb:2*rb]) {
			t.Errorf("%s: the first two rows of token_embd are identical", path)
		}
	}
}

func runEngine(t *testing.T, path string) {
	t.Helper()
	e, err := engine.Load(context.Background(), path, engine.Options{Threads: 2, CtxSize: 64})
	if err != nil {
		t.Fatalf("%s: dseek cannot load it: %v", path, err)
	}
	defer e.Close()
	seq := e.NewSequence()
	defer seq.Close()
	logits, err := seq.Eval(context.Background(), []int32{0, 10, 20, 300, 599}, true)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var maxAbs float64
	for _, v := range logits {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s: non-finite logit", path)
		}
		maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
	}
	if maxAbs == 0 || maxAbs > 100 {
		t.Errorf("%s: max |logit| %.3g, want a small non-zero value", path, maxAbs)
	}
}
