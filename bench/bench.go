package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/model"
	"github.com/dseek-ai/dseek/quantize"
)

// Params are the llama-bench style parameters of a run. Every combination of
// Threads with each prompt size (a pp test) and each generation length (a tg
// test) is one test; sizes of 0 are skipped.
type Params struct {
	Model   string
	Prompts []int // -p: prompt sizes (pp tests), tokens
	Gens    []int // -n: generation lengths (tg tests), tokens
	Threads []int // -t
	Reps    int   // -r: timed repetitions per test (>= 1)
	Warmup  bool  // one untimed 1-token run before the repetitions
	UBatch  int   // prompt tokens per forward pass (llama-bench n_ubatch 512)
	NoMmap  bool
	// HugePages is where the weights live (engine.Options.HugePages).
	HugePages engine.HugePages
	Seed      uint64 // random token ids (llama-bench uses rand() % n_vocab)
}

// Test is one result row with the field names of llama-bench's -o json
// output, plus dseek's bandwidth figures for tg tests.
type Test struct {
	BuildCommit   string    `json:"build_commit"`
	BuildNumber   int       `json:"build_number"`
	CPUInfo       string    `json:"cpu_info"`
	GPUInfo       string    `json:"gpu_info"`
	Backends      string    `json:"backends"`
	ModelFilename string    `json:"model_filename"`
	ModelType     string    `json:"model_type"`
	ModelSize     int64     `json:"model_size"`
	ModelNParams  int64     `json:"model_n_params"`
	NBatch        int       `json:"n_batch"`
	NUBatch       int       `json:"n_ubatch"`
	NThreads      int       `json:"n_threads"`
	TypeK         string    `json:"type_k"`
	TypeV         string    `json:"type_v"`
	NGPULayers    int       `json:"n_gpu_layers"`
	FlashAttn     bool      `json:"flash_attn"`
	UseMmap       bool      `json:"use_mmap"`
	Embeddings    bool      `json:"embeddings"`
	NPrompt       int       `json:"n_prompt"`
	NGen          int       `json:"n_gen"`
	TestTime      string    `json:"test_time"`
	AvgNs         uint64    `json:"avg_ns"`
	StddevNs      uint64    `json:"stddev_ns"`
	AvgTs         float64   `json:"avg_ts"`
	StddevTs      float64   `json:"stddev_ts"`
	Test          string    `json:"test"`
	SamplesNs     []uint64  `json:"samples_ns"`
	SamplesTs     []float64 `json:"samples_ts"`

	// HugePageWeightBytes (dseek extra) is the bytes of weights copied into
	// the huge-page arena (engine.HugePages); 0 when they stay mapped.
	HugePageWeightBytes int64 `json:"hugepage_weight_bytes,omitempty"`

	// dseek extras (tg tests): bytes read per generated token, the measured
	// bandwidth, the resulting bound (tokens/s) and the fraction reached.
	DecodeBytesPerToken int64   `json:"decode_bytes_per_token,omitempty"`
	BandwidthGBps       float64 `json:"bandwidth_gbps,omitempty"`
	BoundTs             float64 `json:"bandwidth_bound_ts,omitempty"`
	BoundFraction       float64 `json:"bandwidth_bound_fraction,omitempty"`
	RSSBytes            int64   `json:"rss_bytes,omitempty"`
}

// Label is llama-bench's test name: "pp512" or "tg128".
func (t *Test) Label() string {
	if t.NGen == 0 {
		return fmt.Sprintf("pp%d", t.NPrompt)
	}
	return fmt.Sprintf("tg%d", t.NGen)
}

// finish computes the statistics from the samples.
func (t *Test) finish() {
	n := t.NPrompt + t.NGen
	t.SamplesTs = TokensPerSecond(n, t.SamplesNs)
	t.AvgNs, t.StddevNs = nsStats(t.SamplesNs)
	t.AvgTs, t.StddevTs = Mean(t.SamplesTs), Stddev(t.SamplesTs)
	t.Test = t.Label()
}

// Runner evaluates token sequences on a model; Engine implements it for
// dseek's engine and tests use fakes.
type Runner interface {
	// Fresh starts an empty sequence (empty KV cache).
	Fresh() Sequence
	NVocab() int
	BOS() (int32, bool) // the BOS id and whether the model adds it
}

// Sequence is one KV cache being filled.
type Sequence interface {
	Eval(ctx context.Context, tokens []int32) error
	Close()
}

// Run executes the pp tests then the tg tests for one loaded model (one
// thread count), like llama-bench: a warm-up, then Reps repetitions each on a
// fresh cache; pp evaluates the prompt in one call (split into micro-batches
// by the runner), tg evaluates NGen single tokens one after another. base
// holds the model and thread fields copied into every Test. Errors: a failed
// evaluation or cancellation.
func Run(ctx context.Context, r Runner, p Params, base Test) ([]Test, error) {
	if p.Reps < 1 {
		return nil, errors.New("bench: repetitions must be >= 1")
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x6265))
	var out []Test
	kinds := [][2]int{}
	for _, np := range p.Prompts {
		if np > 0 {
			kinds = append(kinds, [2]int{np, 0})
		}
	}
	for _, ng := range p.Gens {
		if ng > 0 {
			kinds = append(kinds, [2]int{0, ng})
		}
	}
	for _, k := range kinds {
		t := base
		t.NPrompt, t.NGen = k[0], k[1]
		t.TestTime = time.Now().UTC().Format(time.RFC3339)
		if p.Warmup {
			if err := runOnce(ctx, r, rng, min(t.NPrompt, 1), min(t.NGen, 1)); err != nil {
				return nil, err
			}
		}
		for i := 0; i < p.Reps; i++ {
			start := time.Now()
			if err := runOnce(ctx, r, rng, t.NPrompt, t.NGen); err != nil {
				return nil, err
			}
			t.SamplesNs = append(t.SamplesNs, uint64(time.Since(start).Nanoseconds()))
		}
		t.finish()
		t.RSSBytes = currentRSS()
		out = append(out, t)
	}
	return out, nil
}

// runOnce is one repetition: a fresh cache, nPrompt prompt tokens in one
// evaluation (llama-bench test_prompt) and nGen single-token steps
// (test_gen). The first token is BOS when the model adds one; the rest are
// random ids.
func runOnce(ctx context.Context, r Runner, rng *rand.Rand, nPrompt, nGen int) error {
	seq := r.Fresh()
	defer seq.Close()
	nv := r.NVocab()
	first := func() int32 {
		if bos, ok := r.BOS(); ok {
			return bos
		}
		return int32(rng.IntN(nv))
	}
	if nPrompt > 0 {
		toks := make([]int32, nPrompt)
		toks[0] = first()
		for i := 1; i < nPrompt; i++ {
			toks[i] = int32(rng.IntN(nv))
		}
		if err := seq.Eval(ctx, toks); err != nil {
			return err
		}
	}
	tok := first()
	one := []int32{0}
	for i := 0; i < nGen; i++ {
		one[0] = tok
		if err := seq.Eval(ctx, one); err != nil {
			return err
		}
		tok = int32(rng.IntN(nv))
	}
	return nil
}

// engineRunner runs tests on dseek's engine.
type engineRunner struct{ e *engine.Engine }

type engineSeq struct{ s *engine.Sequence }

func (r engineRunner) Fresh() Sequence { return engineSeq{r.e.NewSequence()} }
func (r engineRunner) NVocab() int     { return r.e.Model.Config.NVocab }
func (r engineRunner) BOS() (int32, bool) {
	return r.e.Tokenizer.BOS(), r.e.Tokenizer.AddBOS()
}
func (s engineSeq) Eval(ctx context.Context, t []int32) error {
	_, err := s.s.Eval(ctx, t, false)
	return err
}
func (s engineSeq) Close() { s.s.Close() }

// BuildCommit is the VCS revision dseek was built from (7 characters), or
// "unknown".
func BuildCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				return s.Value[:7]
			}
		}
	}
	return "unknown"
}

// CPUInfo is the processor model name from /proc/cpuinfo, or GOARCH.
func CPUInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

// currentRSS is the process's resident set (VmRSS) in bytes, 0 if unknown.
func currentRSS() int64 { return procStatusBytes("VmRSS:") }

// PeakRSS is the process's peak resident set (VmHWM) in bytes, 0 if unknown.
func PeakRSS() int64 { return procStatusBytes("VmHWM:") }

func procStatusBytes(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key) {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(line[len(key):]), "%d", &kb)
			return kb << 10
		}
	}
	return 0
}

// ModelInfo is what the tests report about the model file.
type ModelInfo struct {
	Filename string
	Type     string // llama_model_desc: "qwen2 1.5B Q4_K - Medium"
	Size     int64  // bytes of all tensors (llama_model_size)
	NParams  int64  // elements of all tensors (llama_model_n_params)
	// DecodeBytes is the weight bytes one decode step reads: every tensor
	// except the token embedding (one row) and, for MoE layers, only
	// expert_used_count of expert_count routed experts.
	DecodeBytes int64
}

// DescribeModel computes ModelInfo for a loaded model.
func DescribeModel(f *gguf.File, c *model.Config) ModelInfo {
	mi := ModelInfo{Filename: f.Path}
	tied := true
	for i := range f.Tensors {
		if f.Tensors[i].Name == "output.weight" {
			tied = false
		}
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		mi.Size += t.Size
		mi.NParams += t.NumElements()
		switch {
		case t.Name == "token_embd.weight" && !tied:
			mi.DecodeBytes += t.Size / max(t.Rows(), 1)
		case strings.Contains(t.Name, "_exps.") && len(t.Dims) == 3 && c.NExpert > 0:
			mi.DecodeBytes += t.Size * int64(c.NExpertUsed) / int64(c.NExpert)
		default:
			mi.DecodeBytes += t.Size
		}
	}
	ft := "?"
	if v, err := f.Uint("general.file_type"); err == nil {
		ft = FileTypeDesc(quantize.FileType(v))
	} else if len(f.Tensors) > 0 {
		ft = dtype.Type(f.Tensors[0].Type).String()
	}
	mi.Type = fmt.Sprintf("%s %s %s", c.Arch, sizeName(c), ft)
	return mi
}

// sizeName is llama.cpp's model type name (llm_type_name) for the shapes
// dseek knows, "?B" otherwise.
func sizeName(c *model.Config) string {
	switch c.Arch {
	case "qwen2":
		switch {
		case c.NLayer == 24 && c.NEmbd == 896:
			return "0.5B"
		case c.NLayer == 28 && c.NEmbd == 1536:
			return "1.5B"
		case c.NLayer == 28:
			return "7B"
		case c.NLayer == 48:
			return "14B"
		case c.NLayer == 64:
			return "32B"
		case c.NLayer == 80:
			return "70B"
		}
	case "llama":
		switch c.NLayer {
		case 32:
			if c.NVocab >= 128000 {
				return "8B"
			}
			return "7B"
		case 30:
			return "7B"
		case 80:
			return "70B"
		case 95:
			return "67B"
		}
	case "deepseek2":
		switch c.NLayer {
		case 27:
			return "16B"
		case 60:
			return "236B"
		case 61:
			return "671B"
		}
	}
	return "?B"
}

// Bench loads the model once per thread count and runs the tests, filling
// in the model fields and, for tg tests, the bytes read per token (see
// AddBound; apply a bandwidth with ApplyBandwidth). Errors: load or run
// failures.
func Bench(ctx context.Context, p Params) ([]Test, error) {
	maxCtx := 0
	for _, np := range p.Prompts {
		maxCtx = max(maxCtx, np)
	}
	for _, ng := range p.Gens {
		maxCtx = max(maxCtx, ng)
	}
	var out []Test
	for _, th := range p.Threads {
		e, err := engine.Load(ctx, p.Model, engine.Options{Threads: th, CtxSize: maxCtx + 64, UBatch: p.UBatch, NoMmap: p.NoMmap, HugePages: p.HugePages})
		if err != nil {
			return nil, err
		}
		mi := DescribeModel(e.File, e.Model.Config)
		hpBytes, _ := e.HugePageWeights()
		base := Test{
			BuildCommit: BuildCommit(), CPUInfo: CPUInfo(), Backends: "CPU",
			ModelFilename: mi.Filename, ModelType: mi.Type, ModelSize: mi.Size, ModelNParams: mi.NParams,
			NBatch: 2048, NUBatch: e.Options().UBatch, NThreads: e.Options().Threads,
			TypeK: "f16", TypeV: "f16", UseMmap: !p.NoMmap && hpBytes == 0,
			HugePageWeightBytes: hpBytes,
		}
		ts, err := Run(ctx, engineRunner{e}, p, base)
		kvTok := e.Model.KVBytesPerToken(dtype.F16)
		e.Close()
		if err != nil {
			return nil, err
		}
		for i := range ts {
			if ts[i].NGen > 0 {
				AddBound(&ts[i], mi.DecodeBytes, kvTok, 0)
			}
		}
		out = append(out, ts...)
	}
	return out, nil
}

// AddBound fills a tg test's bandwidth figures: bytes per token = weights
// read per decode step + the KV cache read at the average context length of
// the test ((n_gen+1)/2 positions of kvPerToken bytes); bound = bandwidth /
// bytes per token; fraction = avg_ts / bound.
func AddBound(t *Test, weightBytes, kvPerToken int64, gbps float64) {
	t.DecodeBytesPerToken = weightBytes + kvPerToken*int64(t.NPrompt+(t.NGen+1)/2)
	ApplyBandwidth(t, gbps)
}

// ApplyBandwidth sets a tg test's bandwidth, bound and fraction from its
// DecodeBytesPerToken; gbps <= 0 leaves them unset.
func ApplyBandwidth(t *Test, gbps float64) {
	if gbps <= 0 || t.DecodeBytesPerToken <= 0 || t.NGen == 0 {
		return
	}
	t.BandwidthGBps = gbps
	t.BoundTs = gbps * 1e9 / float64(t.DecodeBytesPerToken)
	t.BoundFraction = t.AvgTs / t.BoundTs
}

// FileTypeDesc is llama.cpp's llama_model_ftype_name text for ft, used in
// llama-bench's model column: "Q4_K - Medium" for the K-quant mixes, the
// plain type name otherwise.
func FileTypeDesc(ft quantize.FileType) string {
	name := ft.String()
	for _, sz := range []struct{ suffix, desc string }{{"_K_S", "Small"}, {"_K_M", "Medium"}, {"_K_L", "Large"}} {
		if strings.HasSuffix(name, sz.suffix) {
			return strings.TrimSuffix(name, sz.suffix[2:]) + " - " + sz.desc
		}
	}
	if name == "Q2_K" {
		return "Q2_K - Medium"
	}
	return name
}
