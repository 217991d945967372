package synth

import (
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quantize"
)

// KV is one metadata pair in file order.
type KV struct {
	Key   string
	Value any // a Go value gguf.Writer.AddKV accepts
}

// QuantizationVersion is GGML_QNT_VERSION, written as
// general.quantization_version.
const QuantizationVersion = 2

// Metadata returns the GGUF metadata of shape s in the order
// convert_hf_to_gguf.py writes it (general.architecture; general.type; the
// model-card keys of gguf.Metadata; Model.set_gguf_parameters then the
// architecture class's additions; the tokenizer keys of _set_vocab_gpt2 and
// gguf.SpecialVocab; general.quantization_version). For a quantized file
// type general.quantization_version and general.file_type are moved to the
// end, where llama-quantize's gguf_set_val re-adds them. ts is the tensor
// plan (for the size label). Errors: the vocabulary cannot be built.
func Metadata(s *Shape, ft quantize.FileType, ts []TensorSpec) ([]KV, error) {
	a := s.Arch + "."
	var kv []KV
	add := func(k string, v any) { kv = append(kv, KV{k, v}) }

	add("general.architecture", s.Arch)
	add("general.type", "model")
	add("general.name", s.ModelName)
	add("general.basename", s.BaseName)
	total, shared, expert, nExp := ParamCounts(ts)
	add("general.size_label", SizeLabel(total, shared, expert, nExp))
	if s.License != "" {
		add("general.license", s.License)
	}

	// Model.set_gguf_parameters
	add(a+"block_count", uint32(s.NLayer))
	add(a+"context_length", uint32(s.NCtx))
	add(a+"embedding_length", uint32(s.NEmbd))
	add(a+"feed_forward_length", uint32(s.NFF))
	add(a+"attention.head_count", uint32(s.NHead))
	add(a+"attention.head_count_kv", uint32(s.NHeadKV))
	add(a+"rope.freq_base", s.Theta)
	add(a+"attention.layer_norm_rms_epsilon", s.RMSEps)
	if s.Arch == "deepseek2" {
		add(a+"expert_used_count", uint32(s.NExpertUsed)) // num_experts_per_tok
	}
	add("general.file_type", uint32(ft))

	switch s.Arch {
	case "llama":
		add(a+"vocab_size", uint32(s.Vocab.Size))
		add(a+"rope.dimension_count", uint32(s.HeadSize()))
	case "deepseek2":
		deepseek2Params(add, s)
	}
	if err := vocabKVs(add, &s.Vocab); err != nil {
		return nil, err
	}
	add("general.quantization_version", uint32(QuantizationVersion))
	if Quantized(ft) {
		kv = moveToEnd(kv, "general.quantization_version", "general.file_type")
	}
	return kv, nil
}

// deepseek2Params is DeepseekV2Model.set_gguf_parameters. The expert group
// keys (n_group / topk_group) are not written by the converter at c392e509;
// later converters add them and dseek's router reads them, so they are
// written when the model limits routing to groups (n_group > 1).
func deepseek2Params(add func(string, any), s *Shape) {
	a := s.Arch + "."
	add(a+"leading_dense_block_count", uint32(s.NDenseLead))
	add(a+"vocab_size", uint32(s.Vocab.Size))
	if s.QLoraRank > 0 {
		add(a+"attention.q_lora_rank", uint32(s.QLoraRank))
	}
	add(a+"attention.kv_lora_rank", uint32(s.KVLoraRank))
	add(a+"attention.key_length", uint32(s.QKNope+s.QKRope))
	add(a+"attention.value_length", uint32(s.VHead))
	add(a+"expert_feed_forward_length", uint32(s.NFFExpert))
	add(a+"expert_count", uint32(s.NExpert))
	add(a+"expert_shared_count", uint32(s.NExpertShared))
	add(a+"expert_weights_scale", s.RoutedScale)
	add(a+"expert_weights_norm", s.NormTopK)
	gating := uint32(1) // LLAMA_EXPERT_GATING_FUNC_TYPE_SOFTMAX
	if s.Sigmoid {
		gating = 2
	}
	add(a+"expert_gating_func", gating)
	if s.NGroup > 1 {
		add(a+"expert_group_count", uint32(s.NGroup))
		add(a+"expert_group_used_count", uint32(s.NGroupUsed))
	}
	add(a+"rope.dimension_count", uint32(s.QKRope))
	if y := s.Yarn; y != nil {
		add(a+"rope.scaling.type", "yarn")
		add(a+"rope.scaling.factor", y.Factor)
		add(a+"rope.scaling.original_context_length", uint32(y.OrigCtx))
		add(a+"rope.scaling.yarn_log_multiplier", float32(0.1*float64(y.MScaleAllDim)))
	}
}

// vocabKVs is _set_vocab_gpt2 + gguf.SpecialVocab.add_to_gguf.
func vocabKVs(add func(string, any), v *VocabSpec) error {
	tokens, types, merges, err := v.Build()
	if err != nil {
		return err
	}
	add("tokenizer.ggml.model", "gpt2")
	add("tokenizer.ggml.pre", v.Pre)
	add("tokenizer.ggml.tokens", tokens)
	add("tokenizer.ggml.token_type", types)
	add("tokenizer.ggml.merges", merges)
	add("tokenizer.ggml.bos_token_id", uint32(v.BOS))
	add("tokenizer.ggml.eos_token_id", uint32(v.EOS))
	if v.PAD >= 0 {
		add("tokenizer.ggml.padding_token_id", uint32(v.PAD))
	}
	add("tokenizer.ggml.add_bos_token", v.AddBOS)
	add("tokenizer.ggml.add_eos_token", false)
	if v.ChatTemplate != "" {
		add("tokenizer.chat_template", v.ChatTemplate)
	}
	return nil
}

func moveToEnd(kv []KV, keys ...string) []KV {
	var out, tail []KV
	for _, k := range keys {
		for _, x := range kv {
			if x.Key == k {
				tail = append(tail, x)
			}
		}
	}
	for _, x := range kv {
		keep := true
		for _, k := range keys {
			if x.Key == k {
				keep = false
			}
		}
		if keep {
			out = append(out, x)
		}
	}
	return append(out, tail...)
}

// addKVs declares kv on w.
func addKVs(w *gguf.Writer, kv []KV) error {
	for _, x := range kv {
		if err := w.AddKV(x.Key, x.Value); err != nil {
			return err
		}
	}
	return nil
}
