package model

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/kernels"
)

// GatingFunc is how router logits become expert scores (GGUF
// `expert_gating_func`, llama.cpp llm_expert_gating_func_type).
type GatingFunc int

// Router scoring functions; the values are the GGUF ids.
const (
	GatingSoftmax GatingFunc = 1 // DeepSeek-V2: softmax over all experts
	GatingSigmoid GatingFunc = 2 // DeepSeek-V3: independent sigmoid per expert
)

// Config holds the hyperparameters of a model, read from GGUF metadata under
// the `<arch>.` prefix. Names follow DeepSeek's ModelArgs and llama.cpp's
// llama_hparams. Dimensions are counts of elements.
type Config struct {
	Arch       string
	NVocab     int
	NEmbd      int // hidden size (dim)
	NLayer     int // decoder layers run and KV-cached: block_count - NNextN
	NNextN     int // nextn_predict_layers: trailing MTP blocks, never run (see BlockCount)
	NHead      int
	NHeadKV    int // grouped-query heads (llama/qwen2); equals NHead for deepseek2
	HeadDimK   int // per-head query/key width (llama/qwen2)
	HeadDimV   int // per-head value width (llama/qwen2)
	NFF        int // dense FFN hidden size
	NCtxTrain  int // context_length
	RMSNormEps float32

	Rope       kernels.RopeParams // rope for the (rope part of the) head
	RopeScale  string             // rope.scaling.type: "", "none", "linear", "yarn"
	YaRNFactor float32            // rope.scaling.factor
	YaRNLogMul float32            // rope.scaling.yarn_log_multiplier (0.1·mscale_all_dim)

	// deepseek2 (DeepSeek-V2 paper §2.1 MLA, §2.2 DeepSeekMoE; V3 inference/model.py ModelArgs)
	QLoraRank          int // 0 = no query compression (V2-Lite: attn_q)
	KVLoraRank         int
	QKNopeHeadDim      int
	QKRopeHeadDim      int
	VHeadDim           int
	NLayerDenseLead    int
	NExpert            int
	NExpertUsed        int
	NExpertShared      int
	NFFExpert          int
	NExpertGroup       int // expert_group_count; 0/1 = no group limit
	NExpertGroupUse    int // expert_group_used_count
	Gating             GatingFunc
	ExpertWeightsNorm  bool
	ExpertWeightsScale float32
}

type meta struct {
	f    *gguf.File
	arch string
	err  error
}

func (m *meta) key(k string) string { return m.arch + "." + k }

func (m *meta) uint(k string, def int, required bool) int {
	v, err := m.f.Uint(m.key(k))
	if err != nil {
		if errors.Is(err, gguf.ErrKeyNotFound) && !required {
			return def
		}
		if m.err == nil {
			m.err = err
		}
		return def
	}
	if v > math.MaxInt32 {
		if m.err == nil {
			m.err = fmt.Errorf("%s = %d is out of range", m.key(k), v)
		}
		return def
	}
	return int(v)
}

// float reads a number; a value that is not finite as a float32 (NaN, ±Inf,
// or beyond float32's range) is an error naming the key, since it would turn
// every logit into NaN.
func (m *meta) float(k string, def float32) float32 {
	v, err := m.f.Float(m.key(k))
	if err != nil {
		if !errors.Is(err, gguf.ErrKeyNotFound) && m.err == nil {
			m.err = err
		}
		return def
	}
	f := float32(v)
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		if m.err == nil {
			m.err = fmt.Errorf("%s = %v is not a finite number", m.key(k), v)
		}
		return def
	}
	return f
}

// has reports whether the key is present.
func (m *meta) has(k string) bool {
	_, ok := m.f.Lookup(m.key(k))
	return ok
}

func (m *meta) bool(k string, def bool) bool {
	v, err := m.f.Bool(m.key(k))
	if err != nil {
		if !errors.Is(err, gguf.ErrKeyNotFound) && m.err == nil {
			m.err = err
		}
		return def
	}
	return v
}

func (m *meta) str(k string) string {
	v, err := m.f.String(m.key(k))
	if err != nil {
		if !errors.Is(err, gguf.ErrKeyNotFound) && m.err == nil {
			m.err = err
		}
		return ""
	}
	return v
}

// ReadConfig reads the hyperparameters of f's architecture. It returns an
// error naming the key when a required key is missing or has the wrong type,
// and ErrUnsupportedArch for an architecture dseek cannot run.
func ReadConfig(f *gguf.File) (*Config, error) {
	arch := f.Architecture()
	switch arch {
	case "deepseek2", "llama", "qwen2":
	case "":
		return nil, fmt.Errorf("%w: general.architecture is missing", ErrUnsupportedArch)
	default:
		return nil, fmt.Errorf("%w: %q (dseek runs deepseek2, qwen2 and llama)", ErrUnsupportedArch, arch)
	}
	m := &meta{f: f, arch: arch}
	c := &Config{Arch: arch}
	c.NEmbd = m.uint("embedding_length", 0, true)
	blocks := m.uint("block_count", 0, true)
	c.NNextN = m.uint("nextn_predict_layers", 0, false)
	c.NHead = m.uint("attention.head_count", 0, true)
	c.NHeadKV = m.uint("attention.head_count_kv", c.NHead, false)
	c.NFF = m.uint("feed_forward_length", 0, true)
	c.NCtxTrain = m.uint("context_length", 0, true)
	c.RMSNormEps = m.float("attention.layer_norm_rms_epsilon", 1e-5)
	c.NVocab = m.uint("vocab_size", 0, false)
	if c.NVocab == 0 {
		if toks, err := f.Strings("tokenizer.ggml.tokens"); err == nil {
			c.NVocab = len(toks)
		}
	}
	if m.err != nil {
		return nil, fmt.Errorf("model: %w", m.err)
	}
	if c.NEmbd <= 0 || blocks <= 0 || c.NHead <= 0 || c.NHeadKV <= 0 {
		return nil, fmt.Errorf("model: %s: embedding_length, block_count and head counts must be positive", arch)
	}
	if c.NNextN >= blocks {
		// llama.cpp asserts nextn_predict_layers < n_layer.
		return nil, fmt.Errorf("model: %s.nextn_predict_layers %d must be less than %s.block_count %d (the MTP layers follow at least one main layer)", arch, c.NNextN, arch, blocks)
	}
	c.NLayer = blocks - c.NNextN
	if c.NHead%c.NHeadKV != 0 {
		return nil, fmt.Errorf("model: %s: head_count %d is not a multiple of head_count_kv %d", arch, c.NHead, c.NHeadKV)
	}
	c.HeadDimK = m.uint("attention.key_length", c.NEmbd/c.NHead, false)
	c.HeadDimV = m.uint("attention.value_length", c.NEmbd/c.NHead, false)

	if c.RMSNormEps < 0 {
		return nil, fmt.Errorf("model: %s.attention.layer_norm_rms_epsilon %g must not be negative", arch, c.RMSNormEps)
	}
	c.RopeScale = m.str("rope.scaling.type")
	c.Rope = kernels.RopeParams{
		Mode:       kernels.RopeNormal,
		FreqBase:   m.float("rope.freq_base", 10000),
		FreqScale:  1,
		AttnFactor: 1,
		BetaFast:   m.float("rope.scaling.yarn_beta_fast", 32),
		BetaSlow:   m.float("rope.scaling.yarn_beta_slow", 1),
	}
	if m.err != nil {
		return nil, fmt.Errorf("model: %w", m.err)
	}
	if c.Rope.FreqBase <= 0 {
		return nil, fmt.Errorf("model: %s.rope.freq_base %g must be positive", arch, c.Rope.FreqBase)
	}
	if arch == "qwen2" {
		c.Rope.Mode = kernels.RopeNeoX
	}
	// llama.cpp llama_model::load_hparams: the scaling type defaults to
	// "linear"; the factor is rope.scaling.factor or the older
	// rope.scale_linear (both the factor, freq_scale = 1/factor), 0 or
	// absent meaning 1; type "none" never scales (llama_context).
	switch c.RopeScale {
	case "none":
	case "", "linear", "yarn":
		var factor float32
		if m.has("rope.scaling.factor") {
			factor = m.float("rope.scaling.factor", 0)
		} else {
			factor = m.float("rope.scale_linear", 0)
		}
		if m.err != nil {
			return nil, fmt.Errorf("model: %w", m.err)
		}
		if factor < 0 {
			return nil, fmt.Errorf("model: %s.rope.scaling.factor %g must be positive", arch, factor)
		}
		if factor == 0 {
			factor = 1
		}
		c.YaRNFactor = factor
		c.Rope.FreqScale = 1 / factor
		if c.RopeScale == "yarn" {
			c.Rope.ExtFactor = m.float("rope.scaling.yarn_ext_factor", 1)
			c.Rope.NCtxOrig = m.uint("rope.scaling.original_context_length", c.NCtxTrain, false)
			c.YaRNLogMul = m.float("rope.scaling.yarn_log_multiplier", 0)
		}
	default:
		return nil, fmt.Errorf("model: %s.rope.scaling.type %q is not supported", arch, c.RopeScale)
	}
	if c.Rope.NCtxOrig == 0 {
		c.Rope.NCtxOrig = c.NCtxTrain
	}

	if arch == "deepseek2" {
		readDeepseek2(m, c)
	} else {
		c.Rope.NDims = m.uint("rope.dimension_count", c.HeadDimK, false)
	}
	if m.err != nil {
		return nil, fmt.Errorf("model: %w", m.err)
	}
	if c.Rope.NDims <= 0 || c.Rope.NDims%2 != 0 {
		return nil, fmt.Errorf("model: %s.rope.dimension_count %d must be even and positive", arch, c.Rope.NDims)
	}
	return c, nil
}

// readDeepseek2 reads the MLA and MoE keys. Both GGUF layouts are accepted:
// the original one (head_count_kv = head_count, key_length = qk_nope +
// qk_rope, tensor attn_kv_b) and llama.cpp's 2025 MLA layout (head_count_kv 1,
// key_length = kv_lora_rank + qk_rope, key_length_mla / value_length_mla hold
// the per-head sizes, tensors attn_k_b / attn_v_b).
func readDeepseek2(m *meta, c *Config) {
	c.QLoraRank = m.uint("attention.q_lora_rank", 0, false)
	c.KVLoraRank = m.uint("attention.kv_lora_rank", 0, true)
	c.QKRopeHeadDim = m.uint("rope.dimension_count", 0, true)
	kLen := m.uint("attention.key_length_mla", 0, false)
	vLen := m.uint("attention.value_length_mla", 0, false)
	if kLen == 0 {
		kLen = m.uint("attention.key_length", 0, true)
	}
	if vLen == 0 {
		vLen = m.uint("attention.value_length", 0, true)
	}
	c.QKNopeHeadDim = kLen - c.QKRopeHeadDim
	c.VHeadDim = vLen
	c.HeadDimK, c.HeadDimV = kLen, vLen
	c.NHeadKV = c.NHead
	c.Rope.NDims = c.QKRopeHeadDim
	c.NLayerDenseLead = m.uint("leading_dense_block_count", 0, false)
	c.NExpert = m.uint("expert_count", 0, false)
	c.NExpertUsed = m.uint("expert_used_count", 0, false)
	c.NExpertShared = m.uint("expert_shared_count", 0, false)
	c.NFFExpert = m.uint("expert_feed_forward_length", 0, false)
	c.NExpertGroup = m.uint("expert_group_count", 1, false)
	c.NExpertGroupUse = m.uint("expert_group_used_count", c.NExpertGroup, false)
	c.Gating = GatingFunc(m.uint("expert_gating_func", int(GatingSoftmax), false))
	c.ExpertWeightsNorm = m.bool("expert_weights_norm", false)
	c.ExpertWeightsScale = m.float("expert_weights_scale", 1)
	if m.err != nil {
		return
	}
	switch {
	case c.QKNopeHeadDim <= 0 || c.VHeadDim <= 0 || c.KVLoraRank <= 0:
		m.err = fmt.Errorf("deepseek2: bad MLA sizes: key_length %d, rope %d, value_length %d, kv_lora_rank %d", kLen, c.QKRopeHeadDim, vLen, c.KVLoraRank)
	case c.Gating != GatingSoftmax && c.Gating != GatingSigmoid:
		m.err = fmt.Errorf("deepseek2: expert_gating_func %d is not supported (1 softmax, 2 sigmoid)", c.Gating)
	case c.NLayerDenseLead < c.NLayer && (c.NExpert <= 0 || c.NExpertUsed <= 0 || c.NExpertUsed > c.NExpert || c.NFFExpert <= 0):
		m.err = fmt.Errorf("deepseek2: MoE layers need expert_count, expert_used_count <= expert_count and expert_feed_forward_length (have %d, %d, %d)", c.NExpert, c.NExpertUsed, c.NFFExpert)
	case c.NExpertGroup > 1 && (c.NExpert%c.NExpertGroup != 0 || c.NExpertGroupUse < 1 || c.NExpertGroupUse > c.NExpertGroup):
		m.err = fmt.Errorf("deepseek2: expert_group_count %d / expert_group_used_count %d do not fit %d experts", c.NExpertGroup, c.NExpertGroupUse, c.NExpert)
	}
	if c.NExpertGroup > 1 && c.NExpertUsed > c.NExpertGroupUse*(c.NExpert/c.NExpertGroup) && m.err == nil {
		m.err = fmt.Errorf("deepseek2: expert_used_count %d exceeds the experts of %d groups", c.NExpertUsed, c.NExpertGroupUse)
	}
	if c.RopeScale == "yarn" {
		// llama.cpp build_deepseek2: the rope's magnitude factor cancels YaRN's
		// own 1+0.1·ln(factor), so cos/sin are unscaled (DeepSeek's reference
		// applies no cos/sin scaling when mscale == mscale_all_dim).
		c.Rope.AttnFactor = 1 / (1 + 0.1*float32(math.Log(float64(c.YaRNFactor))))
	}
}

// BlockCount is `<arch>.block_count`: the main layers plus the trailing
// MTP layers (NLayer + NNextN), i.e. the number of blk.N groups in the file.
//
// NNextN is `<arch>.nextn_predict_layers` (0 if absent): the number of
// multi-token-prediction ("nextn", DeepSeek-V3 paper §2.2) blocks stored
// after the main layers as blk.NLayer .. blk.BlockCount()-1, each a full
// decoder layer plus blk.N.nextn.* tensors (eh_proj, enorm, hnorm,
// embed_tokens, shared_head_head, shared_head_norm), as `dseek convert --mtp`
// and newer llama.cpp converters write them. dseek does not run MTP. Like
// llama.cpp (n_layer - nextn_predict_layers transformer layers;
// n_layer_kv_from_start), the forward pass runs only the NLayer main layers,
// leaves the MTP blocks' tensors unbound and gives them no KV cache, so the
// logits equal those of the same model converted without them. ReadConfig
// rejects nextn_predict_layers >= block_count.
func (c *Config) BlockCount() int { return c.NLayer + c.NNextN }

// IsMTPTensor reports whether the tensor name belongs to one of the trailing
// MTP blocks (blk.N.* with NLayer <= N < BlockCount()), which the forward
// pass does not use. Tools that count parameters can use it to tell the
// main model's weights from the MTP layers'.
func (c *Config) IsMTPTensor(name string) bool {
	if c.NNextN == 0 {
		return false
	}
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return false
	}
	num, _, ok := strings.Cut(rest, ".")
	if !ok {
		return false
	}
	n, err := strconv.Atoi(num)
	return err == nil && n >= c.NLayer && n < c.BlockCount()
}

// KQScale is the softmax scale of attention: 1/sqrt(head_dim), times mscale²
// for deepseek2 with YaRN, where mscale = 1 + yarn_log_multiplier·ln(factor)
// (DeepSeek-V3 inference/model.py MLA.__init__: softmax_scale·mscale²).
func (c *Config) KQScale() float32 {
	s := float32(1 / math.Sqrt(float64(c.HeadDimK)))
	if c.Arch == "deepseek2" && c.RopeScale == "yarn" && c.YaRNLogMul != 0 {
		ms := 1 + c.YaRNLogMul*float32(math.Log(float64(c.YaRNFactor)))
		s *= ms * ms
	}
	return s
}

// KVWidth is the number of values the KV cache stores per token and layer:
// kv_lora_rank + qk_rope_head_dim for MLA (the compressed latent c_KV and the
// shared rotated key k_pe, DeepSeek-V2 paper §2.1.2), and
// n_head_kv·(head_dim_k + head_dim_v) for grouped-query attention.
func (c *Config) KVWidth() int {
	if c.Arch == "deepseek2" {
		return c.KVLoraRank + c.QKRopeHeadDim
	}
	return c.NHeadKV * (c.HeadDimK + c.HeadDimV)
}

// ErrUnsupportedArch is returned for a GGUF whose general.architecture dseek
// does not implement.
var ErrUnsupportedArch = errors.New("model: unsupported architecture")
