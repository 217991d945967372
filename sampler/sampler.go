// Package sampler turns a row of logits into a token id.
//
// The chain follows llama.cpp's default sampler chain (common/sampling.cpp,
// common_params_sampling.samplers, as of llama.cpp c392e50), with its logit
// bias stage first:
//
//	logit bias -> penalties -> top-k -> top-p -> min-p -> temperature -> dist
//
// Each stage mirrors the llama.cpp function named in its doc comment
// (src/llama-sampling.cpp). Note that, as in llama.cpp, temperature is applied
// after the truncation stages, so top-p and min-p see the distribution at
// temperature 1. A temperature <= 0 selects greedy decoding: the arg-max of the
// penalised logits, lowest id on ties.
//
// Randomness comes from the sampler's own PCG generator (math/rand/v2) seeded
// from Params.Seed, so the same seed, parameters, logits and history give the
// same tokens. The generator differs from llama.cpp's mt19937, so seeded
// outputs are not expected to match llama.cpp token for token.
//
// A Sampler is not safe for concurrent use; use one per sequence.
package sampler

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Params configures a Sampler. The zero value is greedy decoding without
// penalties.
type Params struct {
	// Temperature divides the logits before the final draw. <= 0 means
	// greedy (arg-max, lowest id on ties). llama_sampler_temp.
	Temperature float64
	// TopK keeps the K highest logits; <= 0 disables it. llama_sampler_top_k.
	TopK int
	// TopP keeps the smallest set of highest-probability tokens whose
	// cumulative probability is >= TopP; values <= 0 or >= 1 disable it.
	// llama_sampler_top_p.
	TopP float64
	// MinP keeps tokens with probability >= MinP * (highest probability);
	// <= 0 disables it. llama_sampler_min_p.
	MinP float64

	// RepeatPenalty divides positive and multiplies non-positive logits of
	// tokens seen in the last RepeatLastN accepted tokens; 1 (or <= 0)
	// disables it. llama_sampler_penalties.
	RepeatPenalty float64
	// PresencePenalty is subtracted once from the logit of every token seen
	// in the window. llama_sampler_penalties (penalty_present).
	PresencePenalty float64
	// FrequencyPenalty is subtracted count times from the logit of a token
	// seen count times in the window. llama_sampler_penalties (penalty_freq).
	FrequencyPenalty float64
	// RepeatLastN is the size of the penalty window in tokens: 0 disables
	// all penalties (as llama.cpp's penalty_last_n == 0), < 0 means every
	// token accepted since the last Reset.
	RepeatLastN int

	// LogitBias adds a value to the logit of a token id before anything
	// else, greedy decoding included (llama_sampler_logit_bias; OpenAI's
	// logit_bias, whose values range over [-100, 100]: -100 in effect bans
	// a token, 100 makes it all but certain). Ids outside [0, n_vocab) are
	// ignored. The map is read, never modified.
	LogitBias map[int32]float64

	// Seed seeds the PCG generator used by the final draw.
	Seed uint64
}

// Validate reports parameters that are out of range: NaN or infinite values
// (logit biases included), TopP or MinP outside [0, 1], a negative
// RepeatPenalty, a negative token id in LogitBias. It is
// meant for API layers that must reject bad requests; New itself accepts any
// Params and treats out-of-range values as "disabled" (see the field docs).
func (p Params) Validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"temperature", p.Temperature}, {"top_p", p.TopP}, {"min_p", p.MinP},
		{"repeat_penalty", p.RepeatPenalty}, {"presence_penalty", p.PresencePenalty},
		{"frequency_penalty", p.FrequencyPenalty},
	} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("sampler: %s is %v", f.name, f.v)
		}
	}
	if p.TopP < 0 || p.TopP > 1 {
		return fmt.Errorf("sampler: top_p %v outside [0, 1]", p.TopP)
	}
	if p.MinP < 0 || p.MinP > 1 {
		return fmt.Errorf("sampler: min_p %v outside [0, 1]", p.MinP)
	}
	if p.RepeatPenalty < 0 {
		return fmt.Errorf("sampler: repeat_penalty %v is negative", p.RepeatPenalty)
	}
	for id, b := range p.LogitBias {
		if id < 0 {
			return fmt.Errorf("sampler: logit_bias for token id %d, which is negative", id)
		}
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("sampler: logit_bias for token id %d is %v", id, b)
		}
	}
	return nil
}

// ErrNoLogits is returned by Sample for an empty logits row.
var ErrNoLogits = errors.New("sampler: empty logits")

// ErrNoCandidates is returned by Sample when every logit is NaN or -Inf
// after penalties, so no token can be chosen.
var ErrNoCandidates = errors.New("sampler: no finite logit to sample from")

// candidate is one token still in the running: id, its (penalised) logit and
// a scratch weight e (an unnormalised probability) set by the stage that
// needs it.
type candidate struct {
	id    int32
	logit float32
	e     float64
}

// Sampler holds the parameters, the accepted-token history used by the
// penalties, the random generator and scratch buffers reused across calls.
type Sampler struct {
	p   Params
	rng *rand.Rand
	pcg *rand.PCG

	history []int32 // accepted tokens; a ring of RepeatLastN when > 0
	head    int     // next write position in the ring when full

	work   []float32   // [n_vocab] copy of the caller's logits, penalised
	counts []int32     // [n_vocab] scratch occurrence counts, all zero between calls
	cands  []candidate // [<= n_vocab] candidates after filtering
	tmp    []candidate // [<= n_vocab] scratch for the top-p threshold passes
}

// New returns a Sampler for p. Out-of-range values disable the stage they
// configure (see Params); use Params.Validate to reject them instead.
func New(p Params) *Sampler {
	s := &Sampler{p: p}
	s.pcg = rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15)
	s.rng = rand.New(s.pcg)
	return s
}

// Params returns the parameters the Sampler was built with.
func (s *Sampler) Params() Params { return s.p }

// Reset clears the accepted-token history and reseeds the generator, so the
// Sampler behaves as if freshly made by New.
func (s *Sampler) Reset() {
	s.history = s.history[:0]
	s.head = 0
	s.pcg.Seed(s.p.Seed, s.p.Seed^0x9e3779b97f4a7c15)
}

// Accept records id as generated (or as part of the prompt, if the caller
// wants prompt tokens penalised) for the repetition penalties.
// llama_sampler_penalties_accept. It allocates only while the history grows
// to RepeatLastN entries (or without bound when RepeatLastN < 0).
func (s *Sampler) Accept(id int32) {
	n := s.p.RepeatLastN
	switch {
	case n == 0:
		return
	case n < 0 || len(s.history) < n:
		s.history = append(s.history, id)
	default:
		s.history[s.head] = id
		s.head = (s.head + 1) % n
	}
}

// Sample picks the next token from logits, a row of shape [n_vocab] (one
// logit per token id). logits is not modified. It returns ErrNoLogits for an
// empty row and ErrNoCandidates when no logit is finite. After the first call
// for a given n_vocab it does not allocate.
func (s *Sampler) Sample(logits []float32) (int32, error) {
	n := len(logits)
	if n == 0 {
		return 0, ErrNoLogits
	}
	if n > math.MaxInt32 {
		return 0, fmt.Errorf("sampler: %d logits exceed the int32 token id range", n)
	}
	s.ensure(n)
	w := s.work[:n]
	copy(w, logits)
	s.applyBias(w)
	s.applyPenalties(w)
	if s.p.Temperature <= 0 {
		return argmax(w) // NaN never compares greater, so it never wins
	}
	for i, v := range w {
		switch {
		case v != v: // NaN never gets probability
			w[i] = float32(math.Inf(-1))
		case v > math.MaxFloat32: // +Inf would make exp(l-max) NaN
			w[i] = math.MaxFloat32
		}
	}

	var sorted bool
	cands := s.cands[:0]
	if k := s.p.TopK; k > 0 && k < n {
		cands = topK(w, k, cands)
		sorted = true
	} else {
		for i, v := range w {
			if !math.IsInf(float64(v), -1) {
				cands = append(cands, candidate{id: int32(i), logit: v})
			}
		}
	}
	if len(cands) == 0 {
		return 0, ErrNoCandidates
	}
	if p := s.p.TopP; p > 0 && p < 1 {
		cands = s.topP(cands, sorted, p)
	}
	if p := s.p.MinP; p > 0 {
		cands = minP(cands, p)
	}
	return s.dist(cands, s.p.Temperature), nil
}

// ensure sizes the scratch buffers for a vocabulary of n tokens.
func (s *Sampler) ensure(n int) {
	if cap(s.work) < n {
		s.work = make([]float32, n)
		s.counts = make([]int32, n)
		s.cands = make([]candidate, 0, n)
		s.tmp = make([]candidate, 0, n)
	}
}

// applyBias adds Params.LogitBias to w ([n_vocab]), skipping ids outside
// it. llama_sampler_logit_bias_apply.
func (s *Sampler) applyBias(w []float32) {
	for id, b := range s.p.LogitBias {
		if id >= 0 && int(id) < len(w) {
			w[id] += float32(b)
		}
	}
}

// applyPenalties applies the repeat, frequency and presence penalties to w
// ([n_vocab]) for the tokens in the history window, as
// llama_sampler_penalties_apply: logit <= 0 is multiplied by the repeat
// penalty, logit > 0 divided, then count*frequency + presence is subtracted.
// History ids outside [0, n_vocab) are ignored.
func (s *Sampler) applyPenalties(w []float32) {
	rep := float32(s.p.RepeatPenalty)
	if rep <= 0 {
		rep = 1
	}
	freq, pres := float32(s.p.FrequencyPenalty), float32(s.p.PresencePenalty)
	if s.p.RepeatLastN == 0 || len(s.history) == 0 || (rep == 1 && freq == 0 && pres == 0) {
		return
	}
	counts := s.counts[:len(w)]
	for _, id := range s.history {
		if id >= 0 && int(id) < len(w) {
			counts[id]++
		}
	}
	for _, id := range s.history {
		if id < 0 || int(id) >= len(w) || counts[id] == 0 {
			continue
		}
		c := counts[id]
		counts[id] = 0 // apply once per distinct token; leaves counts all zero
		l := w[id]
		if l <= 0 {
			l *= rep
		} else {
			l /= rep
		}
		w[id] = l - float32(c)*freq - pres
	}
}

// argmax returns the index of the largest value of w, the lowest index on
// ties, or ErrNoCandidates when every value is -Inf or NaN. Four independent
// lanes keep the comparisons from forming one dependency chain.
func argmax(w []float32) (int32, error) {
	ninf := float32(math.Inf(-1))
	var bi [4]int
	bv := [4]float32{ninf, ninf, ninf, ninf}
	for j := range bi {
		bi[j] = -1
	}
	n4 := len(w) &^ 3
	for i := 0; i < n4; i += 4 {
		v := w[i : i+4 : i+4]
		if v[0] > bv[0] {
			bv[0], bi[0] = v[0], i
		}
		if v[1] > bv[1] {
			bv[1], bi[1] = v[1], i+1
		}
		if v[2] > bv[2] {
			bv[2], bi[2] = v[2], i+2
		}
		if v[3] > bv[3] {
			bv[3], bi[3] = v[3], i+3
		}
	}
	best, bestV := -1, ninf
	for j := range bi { // each lane holds its own lowest index of its maximum
		if bi[j] >= 0 && (bv[j] > bestV || (bv[j] == bestV && bi[j] < best)) {
			best, bestV = bi[j], bv[j]
		}
	}
	for i := n4; i < len(w); i++ {
		if w[i] > bestV {
			best, bestV = i, w[i]
		}
	}
	if best < 0 {
		return 0, ErrNoCandidates
	}
	return int32(best), nil
}
