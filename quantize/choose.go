package quantize

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
)

// ModelInfo is what the type choice needs to know about a model: the GGUF
// architecture and a few hyper-parameters (llama.cpp's llama_hparams).
type ModelInfo struct {
	Arch    string // general.architecture ("deepseek2", "qwen2", "llama", ...)
	NLayer  int    // <arch>.block_count
	NEmbd   int    // <arch>.embedding_length
	NHead   int    // <arch>.attention.head_count (layer 0)
	NHeadKV int    // <arch>.attention.head_count_kv (layer 0); 0 = NHead
	NExpert int    // <arch>.expert_count; 0 for dense models
}

// gqa is hparams.n_gqa() of layer 0: n_head / n_head_kv (0 without kv heads).
func (m ModelInfo) gqa() int {
	kv := m.NHeadKV
	if kv == 0 {
		kv = m.NHead
	}
	if kv == 0 {
		return 0
	}
	return m.NHead / kv
}

// is70B is llama.cpp's `model.type == LLM_TYPE_70B` for the architectures
// dseek handles: llama with 80 layers and grouped KV heads, qwen2 with 80
// layers (llm_load_hparams in src/llama-model.cpp).
func (m ModelInfo) is70B() bool {
	switch m.Arch {
	case "llama":
		kv := m.NHeadKV
		if kv == 0 {
			kv = m.NHead
		}
		return m.NLayer == 80 && m.NHead != kv
	case "qwen2":
		return m.NLayer == 80
	}
	return false
}

// Chooser is the state of llama_tensor_get_type over one model: the
// counters of attn_v / ffn_* tensors seen so far, which decide the
// "use more bits" layers of the _M mixes. Feed it the tensors to be
// quantized in llama.cpp's order (see Order) through TypeFor; Plan does
// this for a whole tensor list.
type Chooser struct {
	m         ModelInfo
	ft        FileType
	def       dtype.Type
	hasOutput bool // the model has output.weight (not tied to token_embd)

	nAttnV, iAttnV                       int
	nFFNDown, iFFNDown, iFFNGate, iFFNUp int
	nFallback, nKQuantized               int
}

// NewChooser prepares the type choice of ft for model m whose tensors are
// names (every tensor, quantized or not: the counts of attn_v/attn_qkv/
// attn_kv_b tensors and the presence of output.weight come from them).
// Errors: an unknown or non-quantized-mix file type is accepted (TypeFor
// then returns the default type); an unknown file type is an error.
func NewChooser(m ModelInfo, ft FileType, names []string) (*Chooser, error) {
	def, ok := ft.DefaultType()
	if !ok {
		return nil, fmt.Errorf("quantize: unknown file type %d", uint32(ft))
	}
	c := &Chooser{m: m, ft: ft, def: def, nFFNDown: m.NLayer}
	for _, n := range names {
		switch {
		case strings.Contains(n, "attn_v.weight"), strings.Contains(n, "attn_qkv.weight"), strings.Contains(n, "attn_kv_b.weight"):
			c.nAttnV++
		case n == "output.weight":
			c.hasOutput = true
		}
	}
	return c, nil
}

// Fallbacks returns how many tensors got a fallback type because their row
// length is not a multiple of the chosen type's block size.
func (c *Chooser) Fallbacks() int { return c.nFallback }

// useMoreBits is llama-quant.cpp's use_more_bits: the first and last eighth
// of the layers and every third layer in between.
func useMoreBits(i, n int) bool {
	return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2
}

// layerOf is layer_info: with more than one expert the layer index comes
// from the tensor name (blk.N.), otherwise it is the running counter.
func (c *Chooser) layerOf(counter int, name string) (int, int, error) {
	if c.m.NExpert <= 1 {
		return counter, c.nFFNDown, nil
	}
	l, ok := blockIndex(name)
	if !ok {
		return 0, 0, fmt.Errorf("quantize: failed to determine layer for tensor %s", name)
	}
	if l < 0 || l >= c.nFFNDown {
		return 0, 0, fmt.Errorf("quantize: bad layer %d for tensor %s, must be in [0, %d)", l, name, c.nFFNDown)
	}
	return l, c.nFFNDown, nil
}

// blockIndex parses the N of a "blk.N." tensor name (sscanf "blk.%d.").
func blockIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return -1, false
	}
	j := 0
	if j < len(rest) && (rest[j] == '-' || rest[j] == '+') {
		j++
	}
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(rest[:j])
	if err != nil {
		return -1, false
	}
	return n, true
}

// TypeFor returns the type llama-quantize gives tensor name (dims in ggml
// order, dims[0] = row length) under the mix: llama_tensor_get_type
// followed by its fallback for rows that are not a multiple of the block
// size. Call it only for tensors that are quantized (see ShouldQuantize), in
// llama.cpp's order; it advances the layer counters. fallback reports that
// a fallback type was used. Errors: a tensor of an MoE model whose name has
// no layer index, or no fallback exists for the row length.
func (c *Chooser) TypeFor(name string, dims []uint64) (t dtype.Type, fallback bool, err error) {
	if len(dims) == 0 {
		return 0, false, fmt.Errorf("quantize: tensor %s has no dimensions", name)
	}
	if !c.ft.isMix() {
		t = c.def
	} else if t, err = c.mixType(name, dims[0]); err != nil {
		return 0, false, err
	}
	return c.fallback(name, t, dims[0])
}

// isMix reports whether llama-quantize applies llama_tensor_get_type
// (`ggml_is_quantized(default_type)`): not for F32/F16/BF16.
func (ft FileType) isMix() bool {
	t, ok := ft.DefaultType()
	return ok && t.IsQuantized()
}

// fallback replaces t by a type whose block divides the row length nx
// (the convert_incompatible_tensor switch of llama_tensor_get_type).
func (c *Chooser) fallback(name string, t dtype.Type, nx uint64) (dtype.Type, bool, error) {
	if nx%uint64(t.BlockSize()) == 0 {
		c.nKQuantized++
		return t, false, nil
	}
	var nt dtype.Type
	switch t {
	case dtype.TQ1_0, dtype.TQ2_0:
		nt = dtype.Q4_0
	case dtype.IQ2_XXS, dtype.IQ2_XS, dtype.IQ2_S, dtype.IQ3_XXS, dtype.IQ3_S, dtype.IQ1_S, dtype.IQ1_M,
		dtype.Q2_K, dtype.Q3_K, dtype.IQ4_XS:
		nt = dtype.IQ4_NL
	case dtype.Q4_K:
		nt = dtype.Q5_0
	case dtype.Q5_K:
		nt = dtype.Q5_1
	case dtype.Q6_K:
		nt = dtype.Q8_0
	default:
		return 0, false, fmt.Errorf("quantize: tensor %s: rows of %d elements cannot be stored as %s and no fallback exists", name, nx, t)
	}
	if nx%uint64(nt.BlockSize()) != 0 {
		nt = dtype.F16
	}
	c.nFallback++
	return nt, true, nil
}
