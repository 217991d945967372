package convert

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/safetensors"
)

// source is one Hugging Face tensor feeding an output tensor, with its FP8
// block scales if it is a block-quantized FP8 weight.
type source struct {
	t      *safetensors.Tensor
	scales *safetensors.Tensor
}

// outTensor is one GGUF tensor to write.
type outTensor struct {
	name     string
	typ      dtype.Type
	dims     []uint64  // ggml order
	srcs     []source  // one, or n_expert stacked along the outermost axis
	gen      []float32 // generated data (rope_freqs) instead of srcs
	rows     int64     // rows per source
	rowLen   int64     // elements per row
	permute  int64     // llama q/k: head count of the row permutation, 0 = none
	permute1 bool      // permute the elements of a 1-D tensor (a q/k bias)
}

// planner turns the checkpoint's tensor list into the output tensors in
// the order convert_hf_to_gguf.py writes them.
type planner struct {
	arch     string
	h        hparams
	m        *safetensors.Model
	ft       quantize.FileType
	nLayer   int64 // layers written (with MTP layers when kept)
	nBase    int64 // num_hidden_layers
	nExpert  int64
	out      []outTensor
	experts  map[int]map[string]map[int]source // layer -> base -> expert -> source
	nPending map[int]int
	layers   map[int]bool // layers with at least one tensor
}

func (p *planner) plan() error {
	p.experts, p.nPending, p.layers = map[int]map[string]map[int]source{}, map[int]int{}, map[int]bool{}
	for _, name := range p.m.Names() {
		if err := p.add(name); err != nil {
			return err
		}
	}
	// A num_hidden_layers above the checkpoint's layers used to give a GGUF
	// whose block_count promises tensors it does not have.
	for l := range int(p.nLayer) {
		if !p.layers[l] {
			return fmt.Errorf("convert: config.json gives %d layers but the checkpoint has no tensors for layer %d", p.nLayer, l)
		}
	}
	for l, n := range p.nPending {
		if n > 0 {
			return fmt.Errorf("convert: layer %d: %d expert tensors left over (expected %d experts × 3)", l, n, p.nExpert)
		}
	}
	return nil
}

func (p *planner) add(name string) error {
	if skipped(name) {
		return nil
	}
	if base, ok := strings.CutSuffix(name, "_scale_inv"); ok {
		if _, ok := p.m.Tensor(base); ok {
			return nil // consumed by its weight
		}
	}
	n, ok := parseHF(name)
	if !ok || n.ggufName() == "" || (mtpOnly[n.base] && int64(n.layer) < p.nBase) {
		return fmt.Errorf("convert: cannot map tensor %q for %s", name, p.arch)
	}
	if n.layer >= 0 && int64(n.layer) >= p.nLayer {
		return nil // MTP layer, not kept (as convert_hf_to_gguf.py)
	}
	if n.layer >= 0 {
		p.layers[n.layer] = true
	}
	src, err := p.source(name)
	if err != nil {
		return err
	}
	if n.expert >= 0 {
		return p.addExpert(n, src)
	}
	return p.emit(n.ggufName(), []source{src}, p.permuteHeads(name))
}

// source looks up a tensor and, for FP8 E4M3 weights, its block scales.
func (p *planner) source(name string) (source, error) {
	t, _ := p.m.Tensor(name)
	s := source{t: t}
	if t.DType == "F8_E4M3" {
		if sc, ok := p.m.Tensor(name + "_scale_inv"); ok {
			s.scales = sc
		}
	}
	if len(t.Shape) == 0 {
		return s, fmt.Errorf("convert: tensor %q is a scalar", name)
	}
	return s, nil
}

// addExpert collects one expert matrix; when a layer has all n_expert × 3
// it emits the stacked down, gate and up tensors (DeepseekV2Model).
func (p *planner) addExpert(n hfName, src source) error {
	if p.nExpert <= 0 || int64(n.expert) >= p.nExpert {
		return fmt.Errorf("convert: expert %d in layer %d, but n_routed_experts is %d", n.expert, n.layer, p.nExpert)
	}
	byBase := p.experts[n.layer]
	if byBase == nil {
		byBase = map[string]map[int]source{}
		p.experts[n.layer] = byBase
	}
	if byBase[n.base] == nil {
		byBase[n.base] = map[int]source{}
	}
	byBase[n.base][n.expert] = src
	p.nPending[n.layer]++
	if int64(p.nPending[n.layer]) < p.nExpert*3 {
		return nil
	}
	for _, proj := range []string{"down_proj", "gate_proj", "up_proj"} {
		base := "mlp.experts." + proj
		var srcs []source
		for e := range int(p.nExpert) {
			s, ok := byBase[base][e]
			if !ok {
				return fmt.Errorf("convert: layer %d: expert %d has no %s", n.layer, e, proj)
			}
			srcs = append(srcs, s)
		}
		name := hfName{layer: n.layer, base: base, suffix: ".weight"}.ggufName()
		if err := p.emit(name, srcs, 0); err != nil {
			return err
		}
	}
	delete(p.experts, n.layer)
	p.nPending[n.layer] = 0
	return nil
}

// permuteHeads is LlamaModel.modify_tensors: q_proj rows are permuted with
// n_head, k_proj rows with n_head_kv, so that llama.cpp's NORM rope (adjacent
// pairs) applies to weights trained with rotate_half.
func (p *planner) permuteHeads(name string) int64 {
	if p.arch != "llama" {
		return 0
	}
	nh, _ := p.h.int("num_attention_heads")
	switch {
	case strings.HasSuffix(name, "q_proj.weight"), strings.HasSuffix(name, "q_proj.bias"):
		return nh
	case strings.HasSuffix(name, "k_proj.weight"), strings.HasSuffix(name, "k_proj.bias"):
		if kv, ok := p.h.int("num_key_value_heads"); ok {
			return kv
		}
		return nh
	}
	return 0
}

// emit appends an output tensor built from srcs (stacked if several).
func (p *planner) emit(name string, srcs []source, permute int64) error {
	first := srcs[0].t
	for _, s := range srcs[1:] {
		if !slices.Equal(s.t.Shape, first.Shape) {
			return fmt.Errorf("convert: %s: stacked tensors %s %v and %s %v differ in shape", name, first.Name, first.Shape, s.t.Name, s.t.Shape)
		}
	}
	shape := first.Shape
	o := outTensor{name: name, srcs: srcs, rowLen: shape[len(shape)-1], rows: 1}
	for _, d := range shape[:len(shape)-1] {
		o.rows *= d
	}
	if len(srcs) > 1 {
		shape = append([]int64{int64(len(srcs))}, shape...)
	}
	for i := len(shape) - 1; i >= 0; i-- {
		o.dims = append(o.dims, uint64(shape[i]))
	}
	if permute > 0 {
		if err := setPermute(&o, first, permute); err != nil {
			return err
		}
	}
	o.typ = p.outType(name, len(shape), o.dims[0])
	p.out = append(p.out, o)
	return nil
}

func setPermute(o *outTensor, t *safetensors.Tensor, heads int64) error {
	n := t.Shape[0]
	if n%(2*heads) != 0 {
		return fmt.Errorf("convert: %s: %d rows cannot be permuted for %d heads", t.Name, n, heads)
	}
	o.permute, o.permute1 = heads, len(t.Shape) == 1
	return nil
}

// permSrc maps an output index of the head permutation to its source index:
// reshape(heads, 2, n/heads/2).swapaxes(1, 2) (LlamaModel.permute).
func permSrc(o, n, heads int64) int64 {
	half := n / heads / 2
	h, rem := o/(2*half), o%(2*half)
	i, s := rem/2, rem%2
	return h*2*half + s*half + i
}

// outType is Model.prepare_tensors' choice: F32 for 1-D tensors, norms,
// the MoE router and non-weights; otherwise the requested type (Q8_0 falls
// back to F16 for rows that are not a multiple of 32, as gguf-py does).
func (p *planner) outType(name string, nDims int, rowLen uint64) dtype.Type {
	if nDims <= 1 || strings.HasSuffix(name, "_norm.weight") || strings.HasSuffix(name, ".ffn_gate_inp.weight") ||
		!strings.HasSuffix(name, ".weight") {
		return dtype.F32
	}
	switch p.ft {
	case quantize.AllF32:
		return dtype.F32
	case quantize.MostlyBF16:
		return dtype.BF16
	case quantize.MostlyQ8_0:
		if rowLen%32 != 0 {
			return dtype.F16
		}
		return dtype.Q8_0
	}
	return dtype.F16
}
