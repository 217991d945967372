package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

func TestStats(t *testing.T) {
	// Hand-computed: mean of 2,4,4,4,5,5,7,9 is 5; squared deviations sum to
	// 32; sample variance 32/7.
	v := []float64{2, 4, 4, 4, 5, 5, 7, 9}
	if m := Mean(v); m != 5 {
		t.Errorf("Mean = %v, want 5", m)
	}
	if sd := Stddev(v); math.Abs(sd-math.Sqrt(32.0/7)) > 1e-12 {
		t.Errorf("Stddev = %v, want %v", sd, math.Sqrt(32.0/7))
	}
	if Stddev([]float64{3}) != 0 || Mean(nil) != 0 {
		t.Error("degenerate cases")
	}
	ts := TokensPerSecond(128, []uint64{1e9, 2e9, 500e6})
	if ts[0] != 128 || ts[1] != 64 || ts[2] != 256 {
		t.Errorf("TokensPerSecond = %v, want [128 64 256]", ts)
	}
}

// fakeRunner records what the benchmark evaluates.
type fakeRunner struct {
	calls  []int   // tokens per Eval call
	firsts []int32 // first token of each fresh sequence
	fresh  int
	bos    int32
}

type fakeSeq struct {
	r     *fakeRunner
	first bool
}

func (r *fakeRunner) Fresh() Sequence    { r.fresh++; return &fakeSeq{r: r, first: true} }
func (r *fakeRunner) NVocab() int        { return 50 }
func (r *fakeRunner) BOS() (int32, bool) { return r.bos, true }
func (s *fakeSeq) Eval(_ context.Context, t []int32) error {
	for _, id := range t {
		if id < 0 || id >= 50 {
			panic("token out of range")
		}
	}
	if s.first {
		s.r.firsts = append(s.r.firsts, t[0])
		s.first = false
	}
	s.r.calls = append(s.r.calls, len(t))
	return nil
}
func (s *fakeSeq) Close() {}

// TestRunShape checks llama-bench's test protocol: per test a 1-token
// warm-up then Reps runs on fresh sequences; pp evaluates the prompt in one
// call, tg one token per call; sequences start with BOS.
func TestRunShape(t *testing.T) {
	r := &fakeRunner{bos: 7}
	p := Params{Prompts: []int{16, 0}, Gens: []int{5}, Reps: 3, Warmup: true}
	tests, err := Run(context.Background(), r, p, Test{NThreads: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) != 2 || tests[0].Test != "pp16" || tests[1].Test != "tg5" {
		t.Fatalf("tests %v", tests)
	}
	// pp16: warm-up [1], then 3×[16]; tg5: warm-up [1], then 3×5×[1].
	want := []int{1, 16, 16, 16, 1}
	for i := 0; i < 15; i++ {
		want = append(want, 1)
	}
	if len(r.calls) != len(want) {
		t.Fatalf("calls %v, want %v", r.calls, want)
	}
	for i := range want {
		if r.calls[i] != want[i] {
			t.Fatalf("calls %v, want %v", r.calls, want)
		}
	}
	if r.fresh != 8 {
		t.Errorf("%d fresh sequences, want 8 (one per run)", r.fresh)
	}
	for _, f := range r.firsts {
		if f != 7 {
			t.Errorf("a sequence starts with %d, want BOS 7", f)
		}
	}
	for _, ts := range tests {
		if len(ts.SamplesNs) != 3 || len(ts.SamplesTs) != 3 || ts.NThreads != 2 {
			t.Errorf("%s: %d samples, %d threads", ts.Test, len(ts.SamplesNs), ts.NThreads)
		}
		if math.Abs(ts.AvgTs-Mean(ts.SamplesTs)) > 1e-9*ts.AvgTs || ts.StddevTs != Stddev(ts.SamplesTs) {
			t.Errorf("%s: avg/stddev do not match the samples", ts.Test)
		}
	}
}

func TestAddBound(t *testing.T) {
	ts := Test{NGen: 128, AvgTs: 20}
	// 1 GB of weights + 1000 B/token of KV at (128+1)/2 = 64 positions.
	AddBound(&ts, 1e9, 1000, 40)
	if ts.DecodeBytesPerToken != 1e9+64000 {
		t.Errorf("bytes per token %d", ts.DecodeBytesPerToken)
	}
	wantBound := 40e9 / (1e9 + 64000)
	if math.Abs(ts.BoundTs-wantBound) > 1e-9 || math.Abs(ts.BoundFraction-20/wantBound) > 1e-12 {
		t.Errorf("bound %v fraction %v", ts.BoundTs, ts.BoundFraction)
	}
	pp := Test{NPrompt: 512, AvgTs: 5}
	ApplyBandwidth(&pp, 40)
	if pp.BoundTs != 0 {
		t.Error("a pp test got a decode bound")
	}
}

// TestBenchFixtureJSON runs the real engine on a fixture model with tiny
// sizes and checks the llama-bench JSON shape and the model figures against
// the file itself.
func TestBenchFixtureJSON(t *testing.T) {
	path := filepath.Join(fixturesDir(t), "models", "ds3-tiny-Q4_K_M.gguf")
	tests, err := Bench(context.Background(), Params{Model: path, Prompts: []int{8}, Gens: []int{3}, Threads: []int{1, 2}, Reps: 2, Warmup: true, UBatch: 512})
	if err != nil {
		t.Fatal(err)
	}
	for i := range tests {
		ApplyBandwidth(&tests[i], 10)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, tests); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (pp8 and tg3 for 1 and 2 threads)", len(rows))
	}
	// Independent figures from the GGUF: total tensor bytes and elements;
	// decode bytes: all tensors but the embedding (one row), 4 of 16 experts.
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var size, params, decode int64
	for _, ti := range f.Tensors {
		size += ti.Size
		params += ti.NumElements()
		switch {
		case ti.Name == "token_embd.weight":
			decode += ti.Size / int64(ti.Dims[1])
		case strings.HasSuffix(ti.Name, "_exps.weight"):
			decode += ti.Size / 4
		default:
			decode += ti.Size
		}
	}
	for i, r := range rows {
		for _, k := range []string{"build_commit", "model_filename", "model_type", "model_size", "model_n_params", "n_threads",
			"n_prompt", "n_gen", "test_time", "avg_ns", "stddev_ns", "avg_ts", "stddev_ts", "samples_ns", "samples_ts"} {
			if _, ok := r[k]; !ok {
				t.Errorf("row %d lacks %q", i, k)
			}
		}
		if r["model_size"].(float64) != float64(size) || r["model_n_params"].(float64) != float64(params) {
			t.Errorf("row %d: size %v params %v, want %d %d", i, r["model_size"], r["model_n_params"], size, params)
		}
		if s := r["samples_ns"].([]any); len(s) != 2 {
			t.Errorf("row %d: %d samples", i, len(s))
		}
		if !strings.HasPrefix(r["model_type"].(string), "deepseek2 ?B Q4_K - Medium") {
			t.Errorf("row %d: model_type %q", i, r["model_type"])
		}
		if r["avg_ts"].(float64) <= 0 {
			t.Errorf("row %d: avg_ts %v", i, r["avg_ts"])
		}
	}
	tg := tests[1]
	if tg.Test != "tg3" || tg.NThreads != 1 || tests[3].NThreads != 2 {
		t.Fatalf("order: %s/%d threads, %d threads", tg.Test, tg.NThreads, tests[3].NThreads)
	}
	// KV per token of ds3-tiny: 3 layers × (kv_lora 256 + rope 16) × 2 bytes, at
	// (3+1)/2 = 2 positions.
	if want := decode + 3*272*2*2; tg.DecodeBytesPerToken != want {
		t.Errorf("decode bytes per token %d, want %d", tg.DecodeBytesPerToken, want)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, tests); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(md.String(), "\n")
	const head = "| model                          |       size |     params | backend    | threads |          test |              t/s |"
	if lines[0] != head || !strings.HasPrefix(lines[1], "| ------------------------------ | ---------: |") {
		t.Errorf("markdown header:\n%s\n%s", lines[0], lines[1])
	}
	cells := strings.Split(lines[2], "|")
	if len(cells) != 9 || cells[6] != strings.Repeat(" ", 11)+"pp8 " || !strings.Contains(lines[3], " tg3 |") {
		t.Errorf("markdown rows:\n%s", md.String())
	}
}

func TestMeasureBandwidth(t *testing.T) {
	r, err := MeasureBandwidth(2, 8<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r.GBps <= 0 || r.Bytes != 8<<20 {
		t.Errorf("result %+v", r)
	}
	if _, err := MeasureBandwidth(0, 8<<20, 1); err == nil {
		t.Error("0 threads accepted")
	}
}
