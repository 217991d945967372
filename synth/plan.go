package synth

import (
	"fmt"
	"math"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
	"github.com/dseek-ai/dseek/quantize"
)

// Init says how a tensor's values are drawn.
type Init int

// Value distributions (all normal unless stated).
const (
	InitWeight    Init = iota // N(0, WeightStd²)
	InitNorm                  // 1 + N(0, (WeightStd/2)²): RMSNorm gains near 1
	InitBias                  // N(0, WeightStd²)
	InitRopeFreqs             // exact Llama-3 rope factors (not random)
)

// WeightStd is the standard deviation of every random matrix: small enough
// that activations and logits stay finite through any depth (the residual
// stream grows by about sqrt(layers)·0.02·sqrt(width) per RMS-normalised
// input), like the 0.02 initializer_range of the HF configs.
const WeightStd = 0.02

// TensorSpec is one tensor of the plan.
type TensorSpec struct {
	Name string
	Dims []uint64 // ggml order: Dims[0] = ne0 = row length
	Type dtype.Type
	Init Init

	values []float32 // fixed values (rope_freqs), nil for random tensors
}

// Rows is the number of rows (product of Dims[1:]).
func (t *TensorSpec) Rows() int64 {
	n := int64(1)
	for _, d := range t.Dims[1:] {
		n *= int64(d)
	}
	return n
}

// Elements is the number of values.
func (t *TensorSpec) Elements() int64 { return int64(t.Dims[0]) * t.Rows() }

// Bytes is the size of the tensor data.
func (t *TensorSpec) Bytes() int64 {
	rb, _ := t.Type.RowBytes(int64(t.Dims[0]))
	return rb * t.Rows()
}

// planner collects tensors.
type planner struct{ ts []TensorSpec }

func (p *planner) add(name string, init Init, dims ...int) {
	d := make([]uint64, len(dims))
	for i, v := range dims {
		d[i] = uint64(v)
	}
	p.ts = append(p.ts, TensorSpec{Name: name, Dims: d, Init: init})
}

// Plan lists the tensors of shape s for file type ft, in the order
// llama-quantize writes them (llama_model_loader::weight_name_comparer:
// tensors outside blocks first, then by block number, by name within; F16
// and BF16 files use the same order), each with the type the converter and
// llama-quantize would give it. Errors: an invalid shape, an unknown file
// type or one that needs an importance matrix, a type dseek cannot encode.
func Plan(s *Shape, ft quantize.FileType) ([]TensorSpec, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := &planner{}
	nv := s.Vocab.Size
	p.add("token_embd.weight", InitWeight, s.NEmbd, nv)
	p.add("output_norm.weight", InitNorm, s.NEmbd)
	if !s.TieEmb {
		p.add("output.weight", InitWeight, s.NEmbd, nv)
	}
	if s.Llama3 != nil {
		p.add("rope_freqs.weight", InitRopeFreqs, s.HeadSize()/2)
		p.ts[len(p.ts)-1].values = Llama3Factors(s.Llama3, s.Theta, s.HeadSize())
	}
	for il := 0; il < s.NLayer; il++ {
		pre := fmt.Sprintf("blk.%d.", il)
		p.add(pre+"attn_norm.weight", InitNorm, s.NEmbd)
		p.add(pre+"ffn_norm.weight", InitNorm, s.NEmbd)
		if s.Arch == "deepseek2" {
			planMLA(p, s, pre)
			if s.IsMoELayer(il) {
				planMoE(p, s, pre)
			} else {
				planFFN(p, pre, "", s.NEmbd, s.NFF)
			}
			continue
		}
		hd := s.HeadSize()
		q, kv := s.NHead*hd, s.NHeadKV*hd
		p.add(pre+"attn_q.weight", InitWeight, s.NEmbd, q)
		p.add(pre+"attn_k.weight", InitWeight, s.NEmbd, kv)
		p.add(pre+"attn_v.weight", InitWeight, s.NEmbd, kv)
		p.add(pre+"attn_output.weight", InitWeight, q, s.NEmbd)
		if s.QKVBias {
			p.add(pre+"attn_q.bias", InitBias, q)
			p.add(pre+"attn_k.bias", InitBias, kv)
			p.add(pre+"attn_v.bias", InitBias, kv)
		}
		planFFN(p, pre, "", s.NEmbd, s.NFF)
	}
	ts := p.ts
	if err := assignTypes(ts, s, ft); err != nil {
		return nil, err
	}
	return ts, nil
}

func planMLA(p *planner, s *Shape, pre string) {
	qd := s.NHead * (s.QKNope + s.QKRope)
	if s.QLoraRank > 0 {
		p.add(pre+"attn_q_a.weight", InitWeight, s.NEmbd, s.QLoraRank)
		p.add(pre+"attn_q_a_norm.weight", InitNorm, s.QLoraRank)
		p.add(pre+"attn_q_b.weight", InitWeight, s.QLoraRank, qd)
	} else {
		p.add(pre+"attn_q.weight", InitWeight, s.NEmbd, qd)
	}
	p.add(pre+"attn_kv_a_mqa.weight", InitWeight, s.NEmbd, s.KVLoraRank+s.QKRope)
	p.add(pre+"attn_kv_a_norm.weight", InitNorm, s.KVLoraRank)
	p.add(pre+"attn_kv_b.weight", InitWeight, s.KVLoraRank, s.NHead*(s.QKNope+s.VHead))
	p.add(pre+"attn_output.weight", InitWeight, s.NHead*s.VHead, s.NEmbd)
}

func planMoE(p *planner, s *Shape, pre string) {
	p.add(pre+"ffn_gate_inp.weight", InitWeight, s.NEmbd, s.NExpert)
	if s.Sigmoid {
		p.add(pre+"exp_probs_b.bias", InitBias, s.NExpert)
	}
	p.add(pre+"ffn_gate_exps.weight", InitWeight, s.NEmbd, s.NFFExpert, s.NExpert)
	p.add(pre+"ffn_up_exps.weight", InitWeight, s.NEmbd, s.NFFExpert, s.NExpert)
	p.add(pre+"ffn_down_exps.weight", InitWeight, s.NFFExpert, s.NEmbd, s.NExpert)
	if s.NExpertShared > 0 {
		planFFN(p, pre, "_shexp", s.NEmbd, s.NFFExpert*s.NExpertShared)
	}
}

func planFFN(p *planner, pre, suffix string, nEmbd, nFF int) {
	p.add(pre+"ffn_gate"+suffix+".weight", InitWeight, nEmbd, nFF)
	p.add(pre+"ffn_up"+suffix+".weight", InitWeight, nEmbd, nFF)
	p.add(pre+"ffn_down"+suffix+".weight", InitWeight, nFF, nEmbd)
}

// converterF32 reports whether convert_hf_to_gguf.py stores the tensor as F32
// whatever the output type (Model.prepare_tensors): 1-D tensors, norms, the
// MoE router and anything not ending in ".weight" (biases, exp_probs_b.bias).
func converterF32(name string, nDims int) bool {
	return nDims <= 1 || strings.HasSuffix(name, "_norm.weight") ||
		strings.HasSuffix(name, "ffn_gate_inp.weight") || !strings.HasSuffix(name, ".weight")
}

// Quantized reports whether files of type ft come out of llama-quantize
// (everything but the converter's own F32/F16/BF16 outputs).
func Quantized(ft quantize.FileType) bool {
	switch ft {
	case quantize.AllF32, quantize.MostlyF16, quantize.MostlyBF16:
		return false
	}
	return true
}

// assignTypes orders the tensors as llama-quantize writes them and gives
// each its type: the converter's (F32 for 1-D tensors, norms, the router and
// biases, else F16/BF16), then, for a quantized file type, the choice of
// package quantize (llama_tensor_get_type). Errors: quantize.Plan's, and a
// chosen type synth cannot encode.
func assignTypes(ts []TensorSpec, s *Shape, ft quantize.FileType) error {
	base := dtype.F16
	switch ft {
	case quantize.MostlyBF16:
		base = dtype.BF16
	case quantize.AllF32:
		base = dtype.F32
	}
	in := make([]quantize.Tensor, len(ts))
	byName := make(map[string]TensorSpec, len(ts))
	for i := range ts {
		t := base
		if converterF32(ts[i].Name, len(ts[i].Dims)) {
			t = dtype.F32
		}
		in[i] = quantize.Tensor{Name: ts[i].Name, Type: t, Dims: ts[i].Dims}
		byName[ts[i].Name] = ts[i]
	}
	m := quantize.ModelInfo{Arch: s.Arch, NLayer: s.NLayer, NEmbd: s.NEmbd, NHead: s.NHead, NHeadKV: s.NHeadKV}
	if s.Arch == "deepseek2" {
		m.NExpert = s.NExpert
	}
	choices, err := quantize.Plan(m, in, ft, quantize.PlanOptions{})
	if err != nil {
		return err
	}
	for i, c := range choices {
		t := byName[c.Name]
		t.Type = c.Type
		if Quantized(ft) {
			t.Type = c.NewType
		}
		if !quant.Supported(t.Type) {
			return fmt.Errorf("synth: %s would be %s, which dseek cannot encode", t.Name, t.Type)
		}
		ts[i] = t
	}
	return nil
}

// ParamCounts returns llama.cpp's parameter count (all elements) and the
// counts gguf-py's size label uses: shared (non-expert) parameters, one
// expert's parameters summed over layers, and the expert count.
func ParamCounts(ts []TensorSpec) (total, shared, expert int64, nExpert int) {
	var sum, n int64
	for i := range ts {
		t := &ts[i]
		e := t.Elements()
		total += e
		if len(t.Dims) == 3 && containsExps(t.Name) {
			expert += e / int64(t.Dims[2])
			sum += int64(t.Dims[2])
			n++
		} else {
			shared += e
		}
	}
	if n > 0 {
		nExpert = int(sum / n)
	}
	return total, shared, expert, nExpert
}

func containsExps(name string) bool { return strings.Contains(name, "_exps.") }

// SizeLabel is gguf-py's size_label: "1.8B", or "64x1.5B" for MoE models
// (experts × (shared + one expert's parameters)).
func SizeLabel(total, shared, expert int64, nExpert int) string {
	if nExpert > 0 {
		return fmt.Sprintf("%dx%s", nExpert, roundedCount(shared+expert))
	}
	return roundedCount(total)
}

// roundedCount is gguf-py's model_weight_count_rounded_notation with two
// significant digits minimum.
func roundedCount(n int64) string {
	v, suf := float64(n), "K"
	switch {
	case v > 1e12:
		v, suf = v*1e-12, "T"
	case v > 1e9:
		v, suf = v*1e-9, "B"
	case v > 1e6:
		v, suf = v*1e-6, "M"
	default:
		v *= 1e-3
	}
	digits := len(fmt.Sprintf("%d", int64(math.RoundToEven(v))))
	if math.RoundToEven(v) == 0 {
		digits = 0
	}
	fix := max(2-digits, 0)
	return fmt.Sprintf("%.*f%s", fix, v, suf)
}
