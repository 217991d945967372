// Package synth writes random-weight GGUF models with the exact tensor names,
// shapes, types and metadata of real DeepSeek-family checkpoints, so kernels
// and whole-model benchmarks run on real model shapes without downloading
// weights (`dseek synth`).
//
// A file is what llama.cpp's convert_hf_to_gguf.py followed by llama-quantize
// (both at commit c392e509, the fixtures' oracle) would write for the real
// model: the converter's metadata keys in its order, tensors in the order
// llama-quantize writes them (llama_model_loader's weights_map: global tensors
// by name, then layer by layer, by name within a layer), 1-D and router
// tensors in F32, and every other weight in the type llama_tensor_get_type
// picks for the file type (package quantize, the one implementation of
// llama_tensor_get_type in dseek). Weights are normal
// with a small standard deviation and a fixed seed; the tokenizer is a
// synthetic byte-level BPE vocabulary of the real size (see Vocab).
package synth

import (
	"fmt"
	"sort"
	"strings"
)

// Shape is the architecture of a model: the hyperparameters of its Hugging
// Face config.json that the GGUF converter turns into metadata and tensor
// shapes. Sizes are element counts.
type Shape struct {
	Name      string // shape name for --shape, e.g. "deepseek-v2-lite"
	Arch      string // GGUF general.architecture: "deepseek2", "qwen2" or "llama"
	ModelName string // general.name
	BaseName  string // general.basename
	License   string // general.license

	NLayer  int     // num_hidden_layers
	NEmbd   int     // hidden_size
	NFF     int     // intermediate_size (dense FFN)
	NHead   int     // num_attention_heads
	NHeadKV int     // num_key_value_heads
	HeadDim int     // llama/qwen2 head size; 0 = NEmbd/NHead
	NCtx    int     // max_position_embeddings
	RMSEps  float32 // rms_norm_eps
	Theta   float32 // rope_theta
	QKVBias bool    // q/k/v projections have biases (qwen2)
	TieEmb  bool    // tie_word_embeddings: no output.weight

	// Llama-3 rope scaling (rope_type "llama3"): the converter writes the
	// per-frequency factors as the F32 tensor rope_freqs.weight.
	Llama3 *Llama3Rope

	// deepseek2 (DeepSeek-V2 paper §2.1-2.2, DeepSeek-V3 inference/model.py)
	QLoraRank     int // 0 = direct attn_q (V2-Lite)
	KVLoraRank    int
	QKNope        int
	QKRope        int
	VHead         int
	NDenseLead    int // first_k_dense_replace
	NExpert       int // n_routed_experts
	NExpertUsed   int // num_experts_per_tok
	NExpertShared int // n_shared_experts
	NFFExpert     int // moe_intermediate_size
	NGroup        int // n_group (written as expert_group_count when > 1)
	NGroupUsed    int // topk_group
	Sigmoid       bool
	NormTopK      bool    // norm_topk_prob
	RoutedScale   float32 // routed_scaling_factor
	Yarn          *Yarn

	Vocab VocabSpec
}

// Llama3Rope is the rope_scaling block of a Llama-3.1 config.
type Llama3Rope struct {
	Factor, LowFreq, HighFreq float32
	OrigCtx                   int
}

// Yarn is the YaRN rope_scaling block of a DeepSeek-V2/V3 config.
type Yarn struct {
	Factor       float32
	OrigCtx      int
	MScaleAllDim float32 // the converter writes yarn_log_multiplier = 0.1·mscale_all_dim
}

// HeadSize is the per-head width of a llama/qwen2 shape.
func (s *Shape) HeadSize() int {
	if s.HeadDim > 0 {
		return s.HeadDim
	}
	return s.NEmbd / s.NHead
}

// IsMoELayer reports whether layer il has routed experts.
func (s *Shape) IsMoELayer(il int) bool {
	return s.Arch == "deepseek2" && il >= s.NDenseLead && s.NExpert > 0
}

// WithLayers returns a copy of s with n layers. For deepseek2 the dense lead
// is scaled with the depth and kept between 1 and n-1, so a cut model keeps
// at least one dense and one MoE layer; a 1-layer cut is a single MoE layer.
// Errors: n < 1 or more layers than the real model.
func (s Shape) WithLayers(n int) (Shape, error) {
	if n < 1 || n > s.NLayer {
		return s, fmt.Errorf("synth: --layers %d: want 1..%d for %s", n, s.NLayer, s.Name)
	}
	if s.Arch == "deepseek2" && s.NDenseLead > 0 && n != s.NLayer {
		d := (s.NDenseLead*n + s.NLayer/2) / s.NLayer
		s.NDenseLead = max(1, min(d, n-1))
		if n == 1 {
			s.NDenseLead = 0
		}
	}
	s.NLayer = n
	return s, nil
}

// LlamaCppWarning explains why llama.cpp would refuse a file of this shape,
// or returns "". llama.cpp tells DeepSeek-V2-Lite (direct attn_q, no q LoRA)
// from the other deepseek2 models by the layer count alone (is_lite =
// n_layer == 27 in llm_load_hparams at c392e509; 26 or 27 in ik_llama.cpp),
// so a cut V2-Lite, or a V3 cut to 26/27 layers, loads in dseek only.
func (s *Shape) LlamaCppWarning() string {
	if s.Arch != "deepseek2" {
		return ""
	}
	lite := s.NLayer == 27 || s.NLayer == 26
	switch {
	case s.QLoraRank == 0 && !lite:
		return fmt.Sprintf("llama.cpp detects a deepseek2 model without q LoRA only by 27 layers (26 or 27 in ik_llama.cpp); this %d-layer file loads in dseek but not in llama.cpp", s.NLayer)
	case s.QLoraRank > 0 && lite:
		return fmt.Sprintf("llama.cpp takes any %d-layer deepseek2 model for V2-Lite (no q LoRA); this file loads in dseek but not in llama.cpp", s.NLayer)
	}
	return ""
}

// Validate checks that the shape is self-consistent enough to write.
func (s *Shape) Validate() error {
	switch {
	case s.Arch != "deepseek2" && s.Arch != "qwen2" && s.Arch != "llama":
		return fmt.Errorf("synth: shape %q: architecture %q is not deepseek2, qwen2 or llama", s.Name, s.Arch)
	case s.NLayer <= 0 || s.NEmbd <= 0 || s.NHead <= 0 || s.NHeadKV <= 0 || s.NCtx <= 0:
		return fmt.Errorf("synth: shape %q: layer, embedding, head and context sizes must be positive", s.Name)
	case s.NHead%s.NHeadKV != 0:
		return fmt.Errorf("synth: shape %q: %d heads are not a multiple of %d KV heads", s.Name, s.NHead, s.NHeadKV)
	case s.Vocab.Size <= 0:
		return fmt.Errorf("synth: shape %q: vocabulary size must be positive", s.Name)
	}
	if s.Arch == "deepseek2" {
		if s.KVLoraRank <= 0 || s.QKNope <= 0 || s.QKRope <= 0 || s.VHead <= 0 {
			return fmt.Errorf("synth: shape %q: MLA sizes must be positive", s.Name)
		}
		if s.NDenseLead < s.NLayer && (s.NExpert <= 0 || s.NExpertUsed <= 0 || s.NExpertUsed > s.NExpert || s.NFFExpert <= 0) {
			return fmt.Errorf("synth: shape %q: MoE layers need experts, top-k <= experts and an expert FFN size", s.Name)
		}
	}
	return s.Vocab.validate()
}

// Shapes returns the built-in shapes by name. Values are from the models'
// Hugging Face config.json files (see DEEPSEEK-MODELS.md §2 and
// shapes_test.go for the cross-checks).
func Shapes() map[string]Shape {
	m := map[string]Shape{}
	for _, s := range []Shape{v2Lite(), v3(), distillQwen15(), distillLlama8()} {
		m[s.Name] = s
	}
	return m
}

// ShapeNames lists the built-in shape names, sorted.
func ShapeNames() []string {
	var n []string
	for k := range Shapes() {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// LookupShape returns the built-in shape called name.
func LookupShape(name string) (Shape, error) {
	s, ok := Shapes()[strings.ToLower(name)]
	if !ok {
		return Shape{}, fmt.Errorf("synth: unknown shape %q (have %s)", name, strings.Join(ShapeNames(), ", "))
	}
	return s, nil
}

// v2Lite is DeepSeek-V2-Lite(-Chat): 15.7B total, 2.4B active.
func v2Lite() Shape {
	return Shape{
		Name: "deepseek-v2-lite", Arch: "deepseek2",
		ModelName: "DeepSeek V2 Lite Chat", BaseName: "DeepSeek-V2-Lite", License: "other",
		NLayer: 27, NEmbd: 2048, NFF: 10944, NHead: 16, NHeadKV: 16, NCtx: 163840,
		RMSEps: 1e-6, Theta: 10000,
		KVLoraRank: 512, QKNope: 128, QKRope: 64, VHead: 128,
		NDenseLead: 1, NExpert: 64, NExpertUsed: 6, NExpertShared: 2, NFFExpert: 1408,
		NGroup: 1, NGroupUsed: 1, RoutedScale: 1,
		Yarn:  &Yarn{Factor: 40, OrigCtx: 4096, MScaleAllDim: 0.707},
		Vocab: vocabDeepseekLLM(),
	}
}

// v3 is DeepSeek-V3 / R1 (671B total, 37B active; the MTP layer is not
// converted).
func v3() Shape {
	return Shape{
		Name: "deepseek-v3", Arch: "deepseek2",
		ModelName: "DeepSeek V3", BaseName: "DeepSeek-V3", License: "mit",
		NLayer: 61, NEmbd: 7168, NFF: 18432, NHead: 128, NHeadKV: 128, NCtx: 163840,
		RMSEps: 1e-6, Theta: 10000,
		QLoraRank: 1536, KVLoraRank: 512, QKNope: 128, QKRope: 64, VHead: 128,
		NDenseLead: 3, NExpert: 256, NExpertUsed: 8, NExpertShared: 1, NFFExpert: 2048,
		NGroup: 8, NGroupUsed: 4, Sigmoid: true, NormTopK: true, RoutedScale: 2.5,
		Yarn:  &Yarn{Factor: 40, OrigCtx: 4096, MScaleAllDim: 1},
		Vocab: vocabDeepseekV3(),
	}
}

// distillQwen15 is DeepSeek-R1-Distill-Qwen-1.5B (Qwen2.5-Math-1.5B based).
func distillQwen15() Shape {
	return Shape{
		Name: "r1-distill-qwen-1.5b", Arch: "qwen2",
		ModelName: "DeepSeek R1 Distill Qwen 1.5B", BaseName: "DeepSeek-R1-Distill-Qwen", License: "mit",
		NLayer: 28, NEmbd: 1536, NFF: 8960, NHead: 12, NHeadKV: 2, NCtx: 131072,
		RMSEps: 1e-6, Theta: 10000, QKVBias: true,
		Vocab: vocabDistillQwen(),
	}
}

// distillLlama8 is DeepSeek-R1-Distill-Llama-8B (Llama-3.1-8B based).
func distillLlama8() Shape {
	return Shape{
		Name: "r1-distill-llama-8b", Arch: "llama",
		ModelName: "DeepSeek R1 Distill Llama 8B", BaseName: "DeepSeek-R1-Distill-Llama", License: "mit",
		NLayer: 32, NEmbd: 4096, NFF: 14336, NHead: 32, NHeadKV: 8, NCtx: 131072,
		RMSEps: 1e-5, Theta: 500000,
		Llama3: &Llama3Rope{Factor: 8, LowFreq: 1, HighFreq: 4, OrigCtx: 8192},
		Vocab:  vocabDistillLlama(),
	}
}
