package convert

import (
	"strconv"
	"strings"
)

// blockNames maps the part of a Hugging Face layer tensor name after
// "model.layers.N." (without .weight/.bias) to the GGUF name after "blk.N."
// (gguf-py tensor_mapping.py for the llama, qwen2 and deepseek2
// architectures, and the nextn entries newer gguf-py has for MTP layers).
var blockNames = map[string]string{
	"input_layernorm":              "attn_norm",
	"post_attention_layernorm":     "ffn_norm",
	"self_attn.q_proj":             "attn_q",
	"self_attn.k_proj":             "attn_k",
	"self_attn.v_proj":             "attn_v",
	"self_attn.o_proj":             "attn_output",
	"self_attn.q_a_proj":           "attn_q_a",
	"self_attn.q_a_layernorm":      "attn_q_a_norm",
	"self_attn.q_b_proj":           "attn_q_b",
	"self_attn.kv_a_proj_with_mqa": "attn_kv_a_mqa",
	"self_attn.kv_a_layernorm":     "attn_kv_a_norm",
	"self_attn.kv_b_proj":          "attn_kv_b",
	"mlp.gate_proj":                "ffn_gate",
	"mlp.up_proj":                  "ffn_up",
	"mlp.down_proj":                "ffn_down",
	"mlp.gate":                     "ffn_gate_inp",
	"mlp.gate.e_score_correction":  "exp_probs_b",
	"mlp.shared_experts.gate_proj": "ffn_gate_shexp",
	"mlp.shared_experts.up_proj":   "ffn_up_shexp",
	"mlp.shared_experts.down_proj": "ffn_down_shexp",
	"mlp.experts.gate_proj":        "ffn_gate_exps",
	"mlp.experts.up_proj":          "ffn_up_exps",
	"mlp.experts.down_proj":        "ffn_down_exps",
	"embed_tokens":                 "nextn.embed_tokens",
	"enorm":                        "nextn.enorm",
	"hnorm":                        "nextn.hnorm",
	"eh_proj":                      "nextn.eh_proj",
	"shared_head.head":             "nextn.shared_head_head",
	"shared_head.norm":             "nextn.shared_head_norm",
}

// mtpOnly are the block names that exist only in MTP layers.
var mtpOnly = map[string]bool{"embed_tokens": true, "enorm": true, "hnorm": true, "eh_proj": true,
	"shared_head.head": true, "shared_head.norm": true}

// globalNames maps the tensors outside the layers.
var globalNames = map[string]string{
	"model.embed_tokens": "token_embd",
	"model.norm":         "output_norm",
	"lm_head":            "output",
}

// hfName is a parsed Hugging Face tensor name.
type hfName struct {
	layer  int    // -1 outside model.layers
	expert int    // -1 unless mlp.experts.E.
	base   string // after "model.layers.N." (experts: "mlp.experts.<proj>"), no suffix
	suffix string // ".weight" or ".bias"
}

// parseHF splits a tensor name. The DeepSeek router bias
// "mlp.gate.e_score_correction_bias" is renamed "...e_score_correction.bias"
// as convert_hf_to_gguf.py does. ok is false for names without a
// .weight/.bias suffix.
func parseHF(name string) (hfName, bool) {
	name = strings.Replace(name, "e_score_correction_bias", "e_score_correction.bias", 1)
	n := hfName{layer: -1, expert: -1}
	switch {
	case strings.HasSuffix(name, ".weight"):
		n.suffix = ".weight"
	case strings.HasSuffix(name, ".bias"):
		n.suffix = ".bias"
	default:
		return n, false
	}
	rest := strings.TrimSuffix(name, n.suffix)
	after, ok := strings.CutPrefix(rest, "model.layers.")
	if !ok {
		n.base = rest
		return n, true
	}
	idx, tail, ok := strings.Cut(after, ".")
	l, err := strconv.Atoi(idx)
	if !ok || err != nil || l < 0 {
		return n, false
	}
	n.layer, n.base = l, tail
	if e, ok := strings.CutPrefix(tail, "mlp.experts."); ok {
		ei, proj, ok := strings.Cut(e, ".")
		x, err := strconv.Atoi(ei)
		if !ok || err != nil || x < 0 {
			return n, false
		}
		n.expert, n.base = x, "mlp.experts."+proj
	}
	return n, true
}

// ggufName returns the GGUF name of a parsed HF name, or "" if unknown.
func (n hfName) ggufName() string {
	if n.layer < 0 {
		g, ok := globalNames[n.base]
		if !ok {
			return ""
		}
		return g + n.suffix
	}
	g, ok := blockNames[n.base]
	if !ok {
		return ""
	}
	return "blk." + strconv.Itoa(n.layer) + "." + g + n.suffix
}

// skipped reports tensors the converter drops without mapping.
func skipped(name string) bool {
	return strings.HasSuffix(name, ".attention.masked_bias") || strings.HasSuffix(name, ".attention.bias") ||
		strings.HasSuffix(name, ".rotary_emb.inv_freq")
}
