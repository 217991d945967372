package synth

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/quantize"
)

// fixturesDir is the shared fixtures directory; a missing one fails the test.
func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

// fixtureConfig is the generator settings of a fixture family
// (models/<family>.config.json).
type fixtureConfig struct {
	Arch        string  `json:"arch"`
	Kind        string  `json:"kind"`
	NEmbd       int     `json:"n_embd"`
	NLayer      int     `json:"n_layer"`
	NDenseLead  int     `json:"n_dense_lead"`
	NHead       int     `json:"n_head"`
	NHeadKV     int     `json:"n_head_kv"`
	HeadDim     int     `json:"head_dim"`
	QKNope      int     `json:"qk_nope"`
	QKRope      int     `json:"qk_rope"`
	VHead       int     `json:"v_head"`
	QLoraRank   int     `json:"q_lora_rank"`
	KVLoraRank  int     `json:"kv_lora_rank"`
	NFF         int     `json:"n_ff"`
	NFFExp      int     `json:"n_ff_exp"`
	NExpert     int     `json:"n_expert"`
	NExpertUsed int     `json:"n_expert_used"`
	NShared     int     `json:"n_shared"`
	Scoring     string  `json:"scoring_func"`
	QKVBias     bool    `json:"qkv_bias"`
	RopeTheta   float32 `json:"rope_theta"`
	NCtx        int     `json:"n_ctx_train"`
	RopeScaling *struct {
		RopeType string  `json:"rope_type"`
		Factor   float32 `json:"factor"`
		Low      float32 `json:"low_freq_factor"`
		High     float32 `json:"high_freq_factor"`
		Orig     int     `json:"original_max_position_embeddings"`
	} `json:"rope_scaling"`
	VocabInfo struct {
		NTotal int `json:"n_total"`
	} `json:"vocab_info"`
}

// fixtureShape turns a fixture family's generator settings into a Shape.
func fixtureShape(t *testing.T, family string) Shape {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixturesDir(t), "models", family+".config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c fixtureConfig
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	s := Shape{Name: family, Arch: c.Arch, NLayer: c.NLayer, NEmbd: c.NEmbd, NFF: c.NFF, NHead: c.NHead,
		NHeadKV: c.NHeadKV, HeadDim: c.HeadDim, NCtx: c.NCtx, RMSEps: 1e-6, Theta: c.RopeTheta, QKVBias: c.QKVBias,
		Vocab: VocabSpec{Size: c.VocabInfo.NTotal, NormalEnd: c.VocabInfo.NTotal, BOS: 0, EOS: 1, PAD: -1}}
	if c.Kind == "deepseek2" {
		s.Arch = "deepseek2"
		s.NHeadKV = c.NHead
		s.QLoraRank, s.KVLoraRank, s.QKNope, s.QKRope, s.VHead = c.QLoraRank, c.KVLoraRank, c.QKNope, c.QKRope, c.VHead
		s.NDenseLead, s.NExpert, s.NExpertUsed, s.NExpertShared, s.NFFExpert = c.NDenseLead, c.NExpert, c.NExpertUsed, c.NShared, c.NFFExp
		s.Sigmoid = c.Scoring == "sigmoid"
	}
	if c.RopeScaling != nil && c.RopeScaling.RopeType == "llama3" {
		s.Llama3 = &Llama3Rope{Factor: c.RopeScaling.Factor, LowFreq: c.RopeScaling.Low, HighFreq: c.RopeScaling.High, OrigCtx: c.RopeScaling.Orig}
	}
	return s
}

// TestPlanMatchesLlamaQuantize compares the planned tensors (order, names,
// shapes, types) with files written by the real llama-quantize (the
// fixtures, made with `llama-quantize <F16> <out> <TYPE>` at c392e509).
func TestPlanMatchesLlamaQuantize(t *testing.T) {
	cases := []struct {
		family string
		ft     quantize.FileType
	}{
		{"ds2-lite-tiny", quantize.MostlyQ4_K_M}, {"ds2-lite-tiny", quantize.MostlyQ4_0},
		{"ds3-tiny", quantize.MostlyQ4_K_M}, {"ds3-tiny", quantize.MostlyQ8_0},
		{"qwen2-tiny", quantize.MostlyQ4_K_M}, {"qwen2-tiny", quantize.MostlyQ8_0},
		{"llama-tiny", quantize.MostlyQ4_K_M}, {"llama-tiny", quantize.MostlyQ8_0},
	}
	for _, c := range cases {
		t.Run(c.family+"-"+c.ft.String(), func(t *testing.T) {
			s := fixtureShape(t, c.family)
			plan, err := Plan(&s, c.ft)
			if err != nil {
				t.Fatal(err)
			}
			f, err := gguf.Open(filepath.Join(fixturesDir(t), "models", c.family+"-"+c.ft.String()+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if len(plan) != len(f.Tensors) {
				t.Fatalf("%d tensors planned, llama-quantize wrote %d", len(plan), len(f.Tensors))
			}
			for i, want := range f.Tensors {
				got := plan[i]
				if got.Name != want.Name || got.Type != want.Type || !sameDims(got.Dims, want.Dims) {
					t.Errorf("tensor %d: planned %s %s %v, llama-quantize wrote %s %s %v",
						i, got.Name, got.Type, got.Dims, want.Name, want.Type, want.Dims)
				}
			}
			ftKey, err := f.Uint("general.file_type")
			if err != nil || quantize.FileType(ftKey) != c.ft {
				t.Errorf("fixture general.file_type = %d, %v; want %d", ftKey, err, c.ft)
			}
		})
	}
}

func sameDims(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
