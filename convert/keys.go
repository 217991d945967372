package convert

import (
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/quantize"
)

// kv is one metadata pair in write order.
type kv struct {
	key   string
	value any
}

// kvList collects metadata in the order convert_hf_to_gguf.py adds it.
type kvList struct {
	arch string
	kvs  []kv
	err  error
}

func (l *kvList) add(key string, v any) { l.kvs = append(l.kvs, kv{key, v}) }

// a adds an architecture-prefixed key.
func (l *kvList) a(key string, v any) { l.add(l.arch+"."+key, v) }

// u32 writes an integer entry; a negative or too large one is an error (it
// used to wrap: hidden_size -256 became embedding_length 4294967040).
func (l *kvList) u32(h hparams, hkey, key string) {
	if v, ok := h.int(hkey); ok {
		if v < 0 || v > math.MaxUint32 {
			l.fail(fmt.Errorf("convert: config.json %q = %d is out of range", hkey, v))
			return
		}
		l.a(key, uint32(v))
	}
}

// f32 writes a number entry; one that is not finite as a float32 is an error.
func (l *kvList) f32(h hparams, hkey, key string) {
	if v, ok := h.float(hkey); ok {
		if f := float32(v); math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
			l.fail(fmt.Errorf("convert: config.json %q = %v is not a finite float32", hkey, v))
			return
		}
		l.a(key, float32(v))
	}
}

func (l *kvList) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// baseKeys is Model.set_gguf_parameters: the keys every architecture gets.
// blockCount may exceed num_hidden_layers when MTP layers are kept.
func baseKeys(l *kvList, h hparams, blockCount int64, ft quantize.FileType) {
	l.a("block_count", uint32(blockCount))
	l.u32(h, "max_position_embeddings", "context_length")
	l.u32(h, "hidden_size", "embedding_length")
	l.u32(h, "intermediate_size", "feed_forward_length")
	l.u32(h, "num_attention_heads", "attention.head_count")
	l.u32(h, "num_key_value_heads", "attention.head_count_kv")
	l.f32(h, "rope_theta", "rope.freq_base")
	l.f32(h, "rms_norm_eps", "attention.layer_norm_rms_epsilon")
	for _, k := range []string{"layer_norm_eps", "layer_norm_epsilon", "norm_epsilon"} {
		if h.has(k) {
			l.f32(h, k, "attention.layer_norm_epsilon")
			break
		}
	}
	l.u32(h, "num_local_experts", "expert_count")
	l.u32(h, "num_experts_per_tok", "expert_used_count")
	if h.has("head_dim") {
		l.u32(h, "head_dim", "attention.key_length")
		l.u32(h, "head_dim", "attention.value_length")
	}
	l.add("general.file_type", uint32(ft))
}

// deepseek2Keys is DeepseekV2Model.set_gguf_parameters (llama.cpp c392e50)
// plus the expert-group keys of newer llama.cpp (TextModel writes
// expert_group_count = n_group, expert_group_used_count = topk_group) and,
// with MTP layers kept, nextn_predict_layers.
func deepseek2Keys(l *kvList, h hparams, mtp int64) {
	for _, k := range []string{"first_k_dense_replace", "vocab_size", "kv_lora_rank", "qk_nope_head_dim",
		"qk_rope_head_dim", "v_head_dim", "moe_intermediate_size", "n_routed_experts", "n_shared_experts"} {
		if _, ok := h.int(k); !ok {
			l.fail(fmt.Errorf("convert: config.json has no integer %q", k))
			return
		}
	}
	l.u32(h, "first_k_dense_replace", "leading_dense_block_count")
	l.u32(h, "vocab_size", "vocab_size")
	l.u32(h, "q_lora_rank", "attention.q_lora_rank")
	l.u32(h, "kv_lora_rank", "attention.kv_lora_rank")
	nope, _ := h.int("qk_nope_head_dim")
	rope, _ := h.int("qk_rope_head_dim")
	l.a("attention.key_length", uint32(nope+rope))
	l.u32(h, "v_head_dim", "attention.value_length")
	l.u32(h, "moe_intermediate_size", "expert_feed_forward_length")
	l.u32(h, "n_routed_experts", "expert_count")
	l.u32(h, "n_shared_experts", "expert_shared_count")
	l.f32(h, "routed_scaling_factor", "expert_weights_scale")
	if b, ok := h.boolean("norm_topk_prob"); ok {
		l.a("expert_weights_norm", b)
	}
	switch s, _ := h.str("scoring_func"); s {
	case "sigmoid":
		l.a("expert_gating_func", uint32(2))
	case "softmax":
		l.a("expert_gating_func", uint32(1))
	default:
		l.fail(fmt.Errorf("convert: unsupported scoring_func %q", s))
	}
	l.a("rope.dimension_count", uint32(rope))
	if rs := h.sub("rope_scaling"); rs.has("factor") {
		if t, _ := rs.str("type"); t == "yarn" {
			yarnKeys(l, rs)
			m, _ := rs.float("mscale_all_dim")
			l.a("rope.scaling.yarn_log_multiplier", float32(0.1*m))
		}
	}
	l.u32(h, "n_group", "expert_group_count")
	l.u32(h, "topk_group", "expert_group_used_count")
	if mtp > 0 {
		l.a("nextn_predict_layers", uint32(mtp))
	}
}

func yarnKeys(l *kvList, rs hparams) {
	l.a("rope.scaling.type", "yarn")
	l.f32(rs, "factor", "rope.scaling.factor")
	l.u32(rs, "original_max_position_embeddings", "rope.scaling.original_context_length")
}

// qwen2Keys is Qwen2Model.set_gguf_parameters.
func qwen2Keys(l *kvList, h hparams) {
	if rs := h.sub("rope_scaling"); rs.has("factor") {
		if t, _ := rs.str("type"); t == "yarn" {
			yarnKeys(l, rs)
		}
	}
}

// llamaKeys is LlamaModel.set_gguf_parameters.
func llamaKeys(l *kvList, h hparams) {
	l.u32(h, "vocab_size", "vocab_size")
	if h.has("head_dim") {
		l.u32(h, "head_dim", "rope.dimension_count")
	} else {
		hid, _ := h.int("hidden_size")
		nh, _ := h.int("num_attention_heads")
		if nh <= 0 {
			l.fail(fmt.Errorf("convert: config.json: num_attention_heads must be positive"))
			return
		}
		l.a("rope.dimension_count", uint32(hid/nh))
	}
	if rs := h.sub("rope_scaling"); rs.has("factor") {
		if t, _ := rs.str("type"); t == "linear" {
			l.a("rope.scaling.type", "linear")
			l.f32(rs, "factor", "rope.scaling.factor")
		}
	}
}
