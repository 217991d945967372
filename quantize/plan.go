package quantize

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
)

// Tensor describes one input tensor for Plan.
type Tensor struct {
	Name string
	Type dtype.Type // current type in the input file
	Dims []uint64   // ggml order, Dims[0] = row length
}

// Choice is Plan's decision for one tensor.
type Choice struct {
	Tensor
	NewType  dtype.Type // type in the output file
	Convert  bool       // NewType != Type: the data is re-encoded (else copied)
	Fallback bool       // NewType is a fallback for a row length not divisible by the mix's block
}

// PlanOptions tunes Plan like llama-quantize's flags.
type PlanOptions struct {
	// Pure gives every quantized tensor the default type of the file type
	// (llama-quantize --pure: llama_tensor_get_type is skipped).
	Pure bool
}

// nDims is ggml_n_dims: the number of dimensions up to the last one above 1
// (at least 1).
func nDims(dims []uint64) int {
	n := 1
	for i, d := range dims {
		if d > 1 {
			n = i + 1
		}
	}
	return n
}

// ShouldQuantize reports whether llama-quantize re-encodes tensor name at
// all (llama_model_quantize_impl): weights ending in "weight" with two or
// more dimensions, except norms, the MoE router (ffn_gate_inp), position
// embeddings, token types, Mamba's ssm_conv1d, RWKV's time_mix_* tensors
// and T5's relative position bias. Other tensors are copied unchanged.
func ShouldQuantize(name string, dims []uint64) bool {
	if !strings.HasSuffix(name, "weight") || nDims(dims) < 2 {
		return false
	}
	if name == "position_embd.weight" || name == "token_types.weight" {
		return false
	}
	for _, s := range []string{"_norm.weight", "ffn_gate_inp.weight", "ssm_conv1d.weight",
		"time_mix_first.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_decay_w1.weight",
		"time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight"} {
		if strings.Contains(name, s) {
			return false
		}
	}
	return true
}

// Order sorts tensors the way llama.cpp's model loader iterates them
// (weights_map with weight_name_comparer): tensors outside blocks first,
// then block by block (blk.N. ascending), each group by name. This is the
// order of llama-quantize's output file and of its layer counters.
func Order(ts []Tensor) {
	slices.SortStableFunc(ts, func(a, b Tensor) int {
		la, lb := layerKey(a.Name), layerKey(b.Name)
		if la != lb {
			if la < lb {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// layerKey is the layer number sscanf("blk.%d.") finds, or -1.
func layerKey(name string) int {
	if l, ok := blockIndex(name); ok {
		return l
	}
	return -1
}

// Plan decides the output type of every tensor of a model for file type ft,
// exactly as llama-quantize (no importance matrix) does: it sorts ts in
// place into llama.cpp's order (see Order) and returns one Choice per
// tensor in that order. Errors: unknown file type, a mix that needs an
// importance matrix (IQ1/IQ2 and Q2_K_S), and the errors of TypeFor.
func Plan(m ModelInfo, ts []Tensor, ft FileType, opt PlanOptions) ([]Choice, error) {
	if ft.needsImatrix() {
		return nil, fmt.Errorf("quantize: %s needs an importance matrix, which dseek does not support", ft)
	}
	Order(ts)
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	c, err := NewChooser(m, ft, names)
	if err != nil {
		return nil, err
	}
	out := make([]Choice, len(ts))
	for i, t := range ts {
		ch := Choice{Tensor: t, NewType: t.Type}
		if ShouldQuantize(t.Name, t.Dims) {
			nt := c.def
			if !opt.Pure && ft.isMix() {
				if nt, ch.Fallback, err = c.TypeFor(t.Name, t.Dims); err != nil {
					return nil, err
				}
			}
			ch.NewType = nt
			ch.Convert = nt != t.Type
		}
		out[i] = ch
	}
	return out, nil
}
