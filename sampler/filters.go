package sampler

import (
	"math"
	"slices"
)

// better reports whether a ranks before b: higher logit first, lower id on
// ties. Every sort and selection in this package uses this order, so results
// do not depend on the input order.
func better(a, b candidate) bool {
	return a.logit > b.logit || (a.logit == b.logit && a.id < b.id)
}

// cmpCandidates orders candidates by better, for slices.SortFunc.
func cmpCandidates(a, b candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// topK writes the k best entries of w ([n_vocab], 0 < k < len(w)) into dst,
// sorted by better, and returns it. -Inf logits are skipped, so fewer than k
// may be returned. llama_sampler_top_k_impl (which uses a partial sort; here a
// size-k min-heap, O(n log k)).
func topK(w []float32, k int, dst []candidate) []candidate {
	h := dst[:0]
	for i, v := range w {
		if math.IsInf(float64(v), -1) {
			continue
		}
		c := candidate{id: int32(i), logit: v}
		if len(h) < k {
			h = append(h, c)
			siftUp(h, len(h)-1)
			continue
		}
		if better(c, h[0]) {
			h[0] = c
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, cmpCandidates)
	return h
}

// siftUp restores the heap property (root = worst by better) upwards from i.
func siftUp(h []candidate, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

// siftDown restores the heap property (root = worst by better) downwards
// from i.
func siftDown(h []candidate, i int) {
	for {
		l, worst := 2*i+1, i
		if l < len(h) && better(h[worst], h[l]) {
			worst = l
		}
		if r := l + 1; r < len(h) && better(h[worst], h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		h[i], h[worst] = h[worst], h[i]
		i = worst
	}
}

// topP keeps the shortest prefix (in better order) of cands whose softmax
// probabilities sum to >= p, always at least one token, and returns it sorted.
// llama_sampler_top_p_apply (min_keep = 1).
//
// When cands is not sorted (no top-k before it) a full sort of the vocabulary
// is avoided: only the tokens with probability >= t are sorted, for
// t = 1e-1, 1e-2, ... 0. Whenever those already sum to >= p, the answer is a
// prefix of them, because the sorted order of the whole set starts with them.
func (s *Sampler) topP(cands []candidate, sorted bool, p float64) []candidate {
	maxL := float64(cands[0].logit)
	if !sorted {
		for _, c := range cands {
			maxL = math.Max(maxL, float64(c.logit))
		}
	}
	var sum float64
	for i := range cands {
		e := math.Exp(float64(cands[i].logit) - maxL)
		cands[i].e = e
		sum += e
	}
	if sorted {
		return prefixTo(cands, sum, p)
	}
	for _, t := range [...]float64{1e-1, 1e-2, 1e-3, 1e-4, 1e-6, 0} {
		minE := t * sum
		sub := s.tmp[:0]
		var mass float64
		for _, c := range cands {
			if c.e >= minE {
				sub = append(sub, c)
				mass += c.e
			}
		}
		if mass < p*sum && t > 0 {
			continue
		}
		slices.SortFunc(sub, cmpCandidates)
		sub = prefixTo(sub, sum, p)
		n := copy(cands, sub)
		return cands[:n]
	}
	return cands // unreachable: the t = 0 pass always returns
}

// prefixTo returns the shortest prefix of sorted whose probabilities e/sum
// accumulate to >= p, and at least one element.
func prefixTo(sorted []candidate, sum, p float64) []candidate {
	var cum float64
	for i, c := range sorted {
		cum += c.e / sum
		if cum >= p {
			return sorted[:i+1]
		}
	}
	return sorted
}

// minP keeps the candidates whose probability is >= p times the largest
// probability, i.e. logit >= max_logit + ln(p), preserving their order.
// llama_sampler_min_p_apply. The best candidate always survives.
func minP(cands []candidate, p float64) []candidate {
	maxL := math.Inf(-1)
	for _, c := range cands {
		maxL = math.Max(maxL, float64(c.logit))
	}
	minL := maxL + math.Log(p)
	out := cands[:0]
	for _, c := range cands {
		if float64(c.logit) >= minL {
			out = append(out, c)
		}
	}
	return out
}

// dist draws one candidate with probability softmax(logit / temp) using the
// Sampler's generator (temp > 0). llama_sampler_temp + llama_sampler_dist.
func (s *Sampler) dist(cands []candidate, temp float64) int32 {
	if len(cands) == 1 {
		return cands[0].id
	}
	maxL := math.Inf(-1)
	for _, c := range cands {
		maxL = math.Max(maxL, float64(c.logit))
	}
	var sum float64
	for i := range cands {
		e := math.Exp((float64(cands[i].logit) - maxL) / temp)
		cands[i].e = e
		sum += e
	}
	r := s.rng.Float64() * sum
	var cum float64
	for _, c := range cands {
		cum += c.e
		if r < cum {
			return c.id
		}
	}
	return cands[len(cands)-1].id // rounding: r landed at the very top
}
