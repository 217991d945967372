package sampler

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// ln returns float32 log of each probability: logits whose softmax is probs
// when probs sum to 1.
func ln(probs ...float64) []float32 {
	out := make([]float32, len(probs))
	for i, p := range probs {
		out[i] = float32(math.Log(p))
	}
	return out
}

func ids(c []candidate) []int32 {
	out := make([]int32, len(c))
	for i, x := range c {
		out[i] = x.id
	}
	return out
}

func TestGreedyLowestIDOnTies(t *testing.T) {
	s := New(Params{})
	got, err := s.Sample([]float32{1, 3, -2, 3, 0})
	if err != nil || got != 1 {
		t.Fatalf("greedy = %d, %v; want 1 (first of the tied maxima)", got, err)
	}
	got, _ = New(Params{Temperature: -1}).Sample([]float32{float32(math.NaN()), -5, -4})
	if got != 2 {
		t.Fatalf("greedy with NaN = %d, want 2", got)
	}
}

func TestBadInput(t *testing.T) {
	s := New(Params{Temperature: 1, TopK: 4, TopP: 0.5})
	if _, err := s.Sample(nil); err != ErrNoLogits {
		t.Fatalf("empty logits: err = %v", err)
	}
	inf := float32(math.Inf(-1))
	for _, p := range []Params{{}, {Temperature: 1}, {Temperature: 1, TopK: 1}, {Temperature: 1, TopP: 0.5}} {
		if _, err := New(p).Sample([]float32{inf, float32(math.NaN()), inf}); err != ErrNoCandidates {
			t.Fatalf("%+v all -inf: err = %v", p, err)
		}
	}
	if err := (Params{TopP: 1.5}).Validate(); err == nil {
		t.Fatal("Validate accepted top_p 1.5")
	}
	if err := (Params{Temperature: math.NaN()}).Validate(); err == nil {
		t.Fatal("Validate accepted NaN temperature")
	}
	if err := (Params{Temperature: 0.7, TopP: 0.9, MinP: 0.05, RepeatPenalty: 1.1}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestSampleDoesNotModifyLogits(t *testing.T) {
	logits := []float32{2, -1, 0.5, 3, 0}
	orig := slices.Clone(logits)
	s := New(Params{Temperature: 0.8, TopK: 3, TopP: 0.9, MinP: 0.1, RepeatPenalty: 1.5, RepeatLastN: 8})
	s.Accept(3)
	for range 10 {
		if _, err := s.Sample(logits); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(logits, orig) {
		t.Fatalf("logits modified: %v", logits)
	}
}

// Hand-computed: logits [2, -1, 0.5, 3, 0], history [0 1 1 4], repeat 2,
// frequency 0.5, presence 0.25.
//
//	id0 count 1:  2/2 = 1     - 0.5 - 0.25 =  0.25
//	id1 count 2: -1*2 = -2    - 1.0 - 0.25 = -3.25
//	id4 count 1:  0*2 = 0     - 0.5 - 0.25 = -0.75   (0 counts as non-positive)
//
// With a window of 2 only [1 4] count: id1 = -2 - 0.5 - 0.25 = -2.75.
func TestPenalties(t *testing.T) {
	for _, tc := range []struct {
		lastN int
		want  []float32
	}{
		{-1, []float32{0.25, -3.25, 0.5, 3, -0.75}},
		{4, []float32{0.25, -3.25, 0.5, 3, -0.75}},
		{2, []float32{2, -2.75, 0.5, 3, -0.75}},
		{0, []float32{2, -1, 0.5, 3, 0}},
	} {
		s := New(Params{RepeatPenalty: 2, FrequencyPenalty: 0.5, PresencePenalty: 0.25, RepeatLastN: tc.lastN})
		for _, id := range []int32{99, -3, 0, 1, 1, 4} { // 99, -3: outside the vocab, ignored (and pushed out of small windows)
			s.Accept(id)
		}
		w := []float32{2, -1, 0.5, 3, 0}
		s.ensure(len(w))
		s.applyPenalties(w)
		if !slices.Equal(w, tc.want) {
			t.Errorf("lastN %d: got %v want %v", tc.lastN, w, tc.want)
		}
		for i, c := range s.counts {
			if c != 0 {
				t.Fatalf("counts[%d] = %d left non-zero", i, c)
			}
		}
	}
	// Through Sample: a strong repeat penalty moves greedy off token 3.
	s := New(Params{RepeatPenalty: 10, RepeatLastN: 64})
	s.Accept(3)
	if got, _ := s.Sample([]float32{2, -1, 0.5, 3, 0}); got != 0 {
		t.Fatalf("greedy after penalty = %d, want 0", got)
	}
	s.Reset()
	if got, _ := s.Sample([]float32{2, -1, 0.5, 3, 0}); got != 3 {
		t.Fatalf("greedy after Reset = %d, want 3", got)
	}
}

func TestTopK(t *testing.T) {
	got := topK([]float32{1, 5, 3, 5, 2, float32(math.Inf(-1))}, 3, nil)
	if want := []int32{1, 3, 2}; !slices.Equal(ids(got), want) {
		t.Fatalf("topK = %v want %v", ids(got), want)
	}
	got = topK([]float32{float32(math.Inf(-1)), 1, float32(math.Inf(-1))}, 2, nil)
	if want := []int32{1}; !slices.Equal(ids(got), want) {
		t.Fatalf("topK with -inf = %v want %v", ids(got), want)
	}
}

// Probabilities [0.5 0.3 0.15 0.05]: cumulative 0.5, 0.8, 0.95, 1.
func TestTopPHand(t *testing.T) {
	for _, tc := range []struct {
		p    float64
		want []int32
	}{{0.4, []int32{0}}, {0.7, []int32{0, 1}}, {0.85, []int32{0, 1, 2}}, {0.99, []int32{0, 1, 2, 3}}} {
		s := New(Params{})
		s.ensure(4)
		sorted := []candidate{}
		for i, l := range ln(0.5, 0.3, 0.15, 0.05) {
			sorted = append(sorted, candidate{id: int32(i), logit: l})
		}
		if got := ids(s.topP(slices.Clone(sorted), true, tc.p)); !slices.Equal(got, tc.want) {
			t.Errorf("sorted top-p %v = %v want %v", tc.p, got, tc.want)
		}
		// Same distribution, ids shuffled, through the unsorted path.
		perm := []int32{2, 0, 3, 1}
		shuffled := make([]candidate, 4)
		for i, c := range sorted {
			shuffled[perm[i]] = candidate{id: perm[i], logit: c.logit}
		}
		var want []int32
		for _, id := range tc.want {
			want = append(want, perm[id])
		}
		if got := ids(s.topP(shuffled, false, tc.p)); !slices.Equal(got, want) {
			t.Errorf("unsorted top-p %v = %v want %v", tc.p, got, want)
		}
	}
}

// TestTopPUnsortedMatchesFullSort compares the threshold-pass top-p with the
// plain algorithm (sort everything, accumulate) on random vocabularies.
func TestTopPUnsortedMatchesFullSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 1 + r.IntN(3000)
		scale := []float64{0.1, 1, 5, 20}[trial%4]
		cands := make([]candidate, n)
		for i := range cands {
			cands[i] = candidate{id: int32(i), logit: float32(r.NormFloat64() * scale)}
		}
		p := r.Float64()
		ref := slices.Clone(cands)
		slices.SortFunc(ref, cmpCandidates)
		maxL := float64(ref[0].logit)
		var sum, cum float64
		for _, c := range ref {
			sum += math.Exp(float64(c.logit) - maxL)
		}
		want := []int32{}
		for _, c := range ref { // the textbook loop: accumulate until >= p
			want = append(want, c.id)
			if cum += math.Exp(float64(c.logit)-maxL) / sum; cum >= p {
				break
			}
		}
		s := New(Params{})
		s.ensure(n)
		got := ids(s.topP(cands, false, p))
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d n=%d p=%v: %d tokens, want %d", trial, n, p, len(got), len(want))
		}
	}
}

// Probabilities [0.5 0.3 0.15 0.05]; min-p 0.25 keeps p >= 0.125, min-p 0.7
// keeps p >= 0.35.
func TestMinPHand(t *testing.T) {
	var cands []candidate
	for i, l := range ln(0.3, 0.05, 0.5, 0.15) {
		cands = append(cands, candidate{id: int32(i), logit: l})
	}
	if got, want := ids(minP(slices.Clone(cands), 0.25)), []int32{0, 2, 3}; !slices.Equal(got, want) {
		t.Errorf("min-p 0.25 = %v want %v", got, want)
	}
	if got, want := ids(minP(slices.Clone(cands), 0.7)), []int32{2}; !slices.Equal(got, want) {
		t.Errorf("min-p 0.7 = %v want %v", got, want)
	}
}

// freqs draws n tokens and returns the frequency of each id.
func freqs(t *testing.T, s *Sampler, logits []float32, n int) []float64 {
	t.Helper()
	f := make([]float64, len(logits))
	for range n {
		id, err := s.Sample(logits)
		if err != nil {
			t.Fatal(err)
		}
		f[id]++
	}
	for i := range f {
		f[i] /= float64(n)
	}
	return f
}

// checkFreqs compares observed with expected frequencies. tol is >= 5
// standard deviations of a frequency over 20000 draws (sd <= 0.0036), so a
// correct sampler fails with probability < 1e-6 for any seed; tokens with
// expected probability 0 must never appear.
func checkFreqs(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	for i := range want {
		if (want[i] == 0 && got[i] != 0) || math.Abs(got[i]-want[i]) > tol {
			t.Errorf("%s: id %d frequency %.4f, want %.4f ± %.3f (all %v)", name, i, got[i], want[i], tol, got)
		}
	}
}

const draws = 20000

func TestDistributions(t *testing.T) {
	base := ln(0.5, 0.3, 0.15, 0.05)
	for _, seed := range []uint64{1, 42, 1 << 40} {
		// Temperature only: p_i ∝ exp(l_i/T).
		checkFreqs(t, "T=1", freqs(t, New(Params{Temperature: 1, Seed: seed}), base, draws),
			[]float64{0.5, 0.3, 0.15, 0.05}, 0.02)
		// T=0.5 squares the probabilities: 0.25 0.09 0.0225 0.0025 / 0.365.
		checkFreqs(t, "T=0.5", freqs(t, New(Params{Temperature: 0.5, Seed: seed}), base, draws),
			[]float64{0.25 / 0.365, 0.09 / 0.365, 0.0225 / 0.365, 0.0025 / 0.365}, 0.02)
		// top-p 0.7 keeps {0,1}: 0.625 / 0.375.
		checkFreqs(t, "top-p 0.7", freqs(t, New(Params{Temperature: 1, TopP: 0.7, Seed: seed}), base, draws),
			[]float64{0.625, 0.375, 0, 0}, 0.02)
		// Temperature comes after top-p (llama.cpp order): top-p 0.7 still
		// keeps {0,1} at T=3, then p ∝ 0.5^(1/3), 0.3^(1/3). Applying T
		// first would flatten the distribution and let id 2 through.
		a, b := math.Cbrt(0.5), math.Cbrt(0.3)
		checkFreqs(t, "top-p then T=3", freqs(t, New(Params{Temperature: 3, TopP: 0.7, Seed: seed}), base, draws),
			[]float64{a / (a + b), b / (a + b), 0, 0}, 0.02)
		// Whole chain on [0.4 0.3 0.2 0.06 0.04]: top-k 4 renormalises to
		// [.4167 .3125 .2083 .0625]; top-p 0.9 keeps 3 (cum .9375); min-p
		// 0.6 keeps p >= .25 -> {0,1}; T=2 -> ∝ sqrt(.4), sqrt(.3).
		a, b = math.Sqrt(0.4), math.Sqrt(0.3)
		checkFreqs(t, "chain", freqs(t, New(Params{Temperature: 2, TopK: 4, TopP: 0.9, MinP: 0.6, Seed: seed}),
			ln(0.4, 0.3, 0.2, 0.06, 0.04), draws), []float64{a / (a + b), b / (a + b), 0, 0, 0}, 0.02)
		// top-k 2 alone: 0.5/0.8, 0.3/0.8.
		checkFreqs(t, "top-k 2", freqs(t, New(Params{Temperature: 1, TopK: 2, Seed: seed}), base, draws),
			[]float64{0.625, 0.375, 0, 0}, 0.02)
	}
}

func TestDeterminism(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	logits := make([]float32, 5000)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	p := Params{Temperature: 0.9, TopK: 200, TopP: 0.95, MinP: 0.01, RepeatPenalty: 1.2, RepeatLastN: 16, Seed: 1234}
	run := func(s *Sampler) []int32 {
		var out []int32
		for range 300 {
			id, err := s.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			s.Accept(id)
			out = append(out, id)
		}
		return out
	}
	a := New(p)
	first := run(a)
	if second := run(New(p)); !slices.Equal(first, second) {
		t.Fatal("same seed gave different tokens")
	}
	a.Reset()
	if again := run(a); !slices.Equal(first, again) {
		t.Fatal("Reset did not reproduce the sequence")
	}
	p.Seed++
	if other := run(New(p)); slices.Equal(first, other) {
		t.Fatal("different seeds gave identical 300-token sequences")
	}
}

func TestNoAllocs(t *testing.T) {
	logits := randomLogits(129280)
	for _, p := range benchParams {
		s := New(p.params)
		for i := range 64 {
			s.Accept(int32(i * 7))
		}
		if _, err := s.Sample(logits); err != nil { // sizes the buffers
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(5, func() { _, _ = s.Sample(logits) }); n != 0 {
			t.Errorf("%s: %v allocations per Sample", p.name, n)
		}
	}
}

func randomLogits(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * 3)
	}
	return out
}

var benchParams = []struct {
	name   string
	params Params
}{
	{"greedy", Params{}},
	{"topk40-topp0.95-T0.8", Params{Temperature: 0.8, TopK: 40, TopP: 0.95, MinP: 0.05, Seed: 1}},
	{"topp0.95-full-vocab", Params{Temperature: 0.6, TopP: 0.95, Seed: 1}},
	{"minp0.05-full-vocab", Params{Temperature: 1, MinP: 0.05, Seed: 1}},
	{"T1-full-vocab", Params{Temperature: 1, Seed: 1}},
	{"penalties-last64-greedy", Params{RepeatPenalty: 1.1, PresencePenalty: 0.5, FrequencyPenalty: 0.5, RepeatLastN: 64}},
}

// BenchmarkSample measures one Sample at DeepSeek-V3's vocabulary (129280).
func BenchmarkSample(b *testing.B) {
	logits := randomLogits(129280)
	for _, p := range benchParams {
		b.Run(p.name, func(b *testing.B) {
			s := New(p.params)
			for i := range 64 {
				s.Accept(int32(i * 7))
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = s.Sample(logits)
			}
		})
	}
}

// TestArgmaxMatchesNaive checks the four-lane argmax against a plain loop on
// rows with many ties, -Inf and NaN, at every length up to 40.
func TestArgmaxMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	specials := []float32{float32(math.Inf(-1)), float32(math.NaN()), float32(math.Inf(1))}
	for n := 1; n <= 40; n++ {
		for range 200 {
			w := make([]float32, n)
			for i := range w {
				w[i] = float32(r.IntN(4)) // small range: many ties
				if r.IntN(6) == 0 {
					w[i] = specials[r.IntN(len(specials))]
				}
			}
			want, wantErr := int32(-1), error(ErrNoCandidates)
			best := float32(math.Inf(-1))
			for i, v := range w {
				if v > best {
					best, want, wantErr = v, int32(i), nil
				}
			}
			got, err := argmax(w)
			if err != wantErr || (err == nil && got != want) {
				t.Fatalf("argmax(%v) = %d, %v; want %d, %v", w, got, err, want, wantErr)
			}
		}
	}
}

// TestLogitBias: the bias is added before everything else (greedy and
// penalties included), -100 bans a token in practice, ids outside the
// vocabulary are ignored, the caller's logits are untouched, and Validate
// refuses non-finite values and negative ids.
func TestLogitBias(t *testing.T) {
	logits := []float32{1, 3, 2, 0}
	orig := slices.Clone(logits)
	// Greedy follows the biased logits.
	if got, _ := New(Params{LogitBias: map[int32]float64{2: 1.5}}).Sample(logits); got != 2 {
		t.Errorf("greedy with +1.5 on id 2 = %d, want 2", got)
	}
	if got, _ := New(Params{LogitBias: map[int32]float64{1: -100, 99: 100, -1: 100}}).Sample(logits); got != 2 {
		t.Errorf("greedy with -100 on id 1 (and out-of-range ids) = %d, want 2", got)
	}
	if !slices.Equal(logits, orig) {
		t.Errorf("logits modified: %v", logits)
	}
	// Sampling never draws a banned token, and a +100 token always wins.
	s := New(Params{Temperature: 1.5, Seed: 7, LogitBias: map[int32]float64{1: -100}})
	for range 2000 {
		if id, _ := s.Sample(logits); id == 1 {
			t.Fatal("sampled a token biased by -100")
		}
	}
	s = New(Params{Temperature: 2, Seed: 7, LogitBias: map[int32]float64{3: 100}})
	for range 200 {
		if id, _ := s.Sample(logits); id != 3 {
			t.Fatalf("sampled %d, want the token biased by +100", id)
		}
	}
	// Bias first, then the repeat penalty (llama.cpp's chain order): the
	// other order would give 1/2 + 3 = 3.5.
	p := Params{RepeatPenalty: 2, RepeatLastN: -1, LogitBias: map[int32]float64{0: 3}}
	s = New(p)
	s.Accept(0)
	w := slices.Clone(logits)
	s.ensure(len(w))
	s.applyBias(w)
	s.applyPenalties(w)
	if w[0] != 2 {
		t.Errorf("bias then penalty: logit of id 0 = %v, want (1+3)/2 = 2", w[0])
	}
	for _, bad := range []map[int32]float64{{1: math.NaN()}, {1: math.Inf(1)}, {-3: 1}} {
		if err := (Params{LogitBias: bad}).Validate(); err == nil {
			t.Errorf("Validate accepted logit bias %v", bad)
		}
	}
	if err := (Params{LogitBias: map[int32]float64{5: -100}}).Validate(); err != nil {
		t.Errorf("Validate refused a valid bias: %v", err)
	}
}
