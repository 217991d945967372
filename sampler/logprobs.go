package sampler

import (
	"fmt"
	"math"
	"slices"
)

// TokenLogprob is one token id with its log-probability (natural log) under
// softmax(logits), as reported by the OpenAI API's logprobs field.
type TokenLogprob struct {
	// ID is the token id.
	ID int32
	// Logprob is ln(softmax(logits)[ID]).
	Logprob float32
}

// logSumExp returns ln(sum(exp(logits))) computed in float64 with the usual
// max shift; NaN logits are skipped. It returns -Inf if no logit is finite
// or +Inf-like.
func logSumExp(logits []float32) float64 {
	maxL := math.Inf(-1)
	for _, v := range logits {
		if v == v {
			maxL = math.Max(maxL, float64(v))
		}
	}
	if math.IsInf(maxL, 0) {
		return maxL
	}
	var sum float64
	for _, v := range logits {
		if v == v {
			sum += math.Exp(float64(v) - maxL)
		}
	}
	return maxL + math.Log(sum)
}

// LogSoftmax writes log(softmax(logits)) into dst and returns it; logits has
// shape [n_vocab] and dst is grown to len(logits) if its capacity is too
// small (pass the previous result to avoid allocating). NaN logits give NaN.
// logits is not modified (dst may alias it).
func LogSoftmax(dst, logits []float32) []float32 {
	if cap(dst) < len(logits) {
		dst = make([]float32, len(logits))
	}
	dst = dst[:len(logits)]
	lse := logSumExp(logits)
	for i, v := range logits {
		dst[i] = float32(float64(v) - lse)
	}
	return dst
}

// LogprobOf returns the log-probability of token id under softmax(logits)
// ([n_vocab]), or an error if id is out of range.
func LogprobOf(logits []float32, id int32) (float32, error) {
	if id < 0 || int(id) >= len(logits) {
		return 0, fmt.Errorf("sampler: token id %d outside vocabulary of %d", id, len(logits))
	}
	return float32(float64(logits[id]) - logSumExp(logits)), nil
}

// TopLogprobs returns the k most probable tokens of softmax(logits)
// ([n_vocab]) with their log-probabilities, most probable first, lower id
// first on ties. k is clamped to len(logits); k <= 0 returns nil. NaN logits
// are never selected. It allocates its result.
func TopLogprobs(logits []float32, k int) []TokenLogprob {
	if k <= 0 || len(logits) == 0 {
		return nil
	}
	k = min(k, len(logits))
	h := make([]candidate, 0, k)
	for i, v := range logits {
		if v != v {
			continue
		}
		c := candidate{id: int32(i), logit: v}
		if len(h) < k {
			h = append(h, c)
			siftUp(h, len(h)-1)
		} else if better(c, h[0]) {
			h[0] = c
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, cmpCandidates)
	lse := logSumExp(logits)
	out := make([]TokenLogprob, len(h))
	for i, c := range h {
		out[i] = TokenLogprob{ID: c.id, Logprob: float32(float64(c.logit) - lse)}
	}
	return out
}
