package engine

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/dseek-ai/dseek/kvcache"
	"github.com/dseek-ai/dseek/sampler"
)

// stepPart is one sequence's share of a step: n input tokens.
type stepPart struct {
	q *schedSeq
	n int
}

// step runs one forward pass over the running sequences and handles its
// outputs. The caller holds e.mu.
func (s *Scheduler) step() {
	parts := s.plan()
	parts = s.makeRoom(parts)
	if len(parts) == 0 {
		return
	}
	s.fillBatch(parts)
	nv := s.e.Model.Config.NVocab
	nOut := s.batch.NumOutputs()
	if cap(s.logits) < nOut*nv {
		s.logits = make([]float32, nOut*nv)
	}
	logits := s.logits[:nOut*nv]
	err := s.e.Model.Forward(s.runCtx, s.e.Pool, s.e.state, &s.batch, s.e.Cache, logits)
	if err != nil {
		s.stepFailed(parts, err)
		return
	}
	s.stats.add(func(st *Stats) { st.Steps++; st.StepTokens += uint64(len(s.batch.Tokens)) })
	row := 0
	for _, p := range parts {
		q := p.q
		out := s.advance(p)
		if !out {
			continue
		}
		s.sampleNext(q, logits[row*nv:(row+1)*nv])
		row++
	}
}

// plan gives every decoding sequence one token, then fills the rest of the
// micro-batch (UBatch tokens) with prompt chunks, oldest request first.
func (s *Scheduler) plan() []stepPart {
	var parts []stepPart
	budget := s.e.opt.UBatch
	for _, q := range s.running {
		if q.decoding {
			parts = append(parts, stepPart{q, 1})
			budget--
		}
	}
	for _, q := range s.running {
		if budget <= 0 {
			break
		}
		if n := min(q.prefillLeft(), budget); n > 0 {
			parts = append(parts, stepPart{q, n})
			budget -= n
		}
	}
	return parts
}

// makeRoom makes sure the KV cache has the pages the step needs: it evicts
// prefix-cache entries (least recently used first), then drops prompt
// chunks from the step (they wait for room), then ends the most recently
// admitted sequence of the step with StopPreempted, until the step fits.
func (s *Scheduler) makeRoom(parts []stepPart) []stepPart {
	ps := s.e.Cache.Config().PageSize
	for len(parts) > 0 {
		need := 0
		for _, p := range parts {
			n := s.e.Cache.Len(p.q.seq)
			need += pagesFor(n+p.n, ps) - pagesFor(n, ps)
		}
		if need <= s.freePages() {
			return parts
		}
		if s.prefix.evictLRU(s.e.Cache, nil) {
			continue
		}
		if len(parts) > 1 && !parts[len(parts)-1].q.decoding {
			parts = parts[:len(parts)-1] // this prompt chunk waits
			continue
		}
		victim := newest(parts)
		parts = slices.DeleteFunc(parts, func(p stepPart) bool { return p.q == victim })
		s.stats.add(func(st *Stats) { st.Preempted++ })
		s.finish(victim, StopPreempted, "", nil)
	}
	return parts
}

// newest returns the most recently admitted sequence of the step.
func newest(parts []stepPart) *schedSeq {
	v := parts[0].q
	for _, p := range parts {
		if p.q.admitted > v.admitted {
			v = p.q
		}
	}
	return v
}

// fillBatch writes the step's tokens into s.batch. A part's last token
// wants logits when it is a decode token or the last prompt token.
func (s *Scheduler) fillBatch(parts []stepPart) {
	s.batch.Clear()
	for _, p := range parts {
		q := p.q
		pos := s.e.Cache.Len(q.seq)
		if q.decoding {
			s.batch.Add(q.pending, int32(pos), q.seq, true)
			continue
		}
		start := len(q.tokens)
		for i := 0; i < p.n; i++ {
			last := start+i == len(q.req.Prompt)-1
			s.batch.Add(q.req.Prompt[start+i], int32(pos+i), q.seq, last)
		}
	}
}

// advance records the tokens of part p as evaluated and reports whether the
// part produced logits to sample from.
func (s *Scheduler) advance(p stepPart) bool {
	q := p.q
	if q.decoding {
		q.tokens = append(q.tokens, q.pending)
		return true
	}
	start := len(q.tokens)
	q.tokens = append(q.tokens, q.req.Prompt[start:start+p.n]...)
	s.stats.add(func(st *Stats) { st.PrefillTokens += uint64(p.n) })
	if len(q.tokens) == len(q.req.Prompt) {
		q.decoding = true
		return true
	}
	return false
}

// stepFailed handles a failed forward pass: a cancelled run context cancels
// the step's requests, a full cache ends the newest one (StopPreempted), and
// anything else fails them all.
func (s *Scheduler) stepFailed(parts []stepPart, err error) {
	switch {
	case s.runCtx.Err() != nil:
		for _, p := range parts {
			s.finish(p.q, StopCancelled, "", nil)
		}
	case errors.Is(err, kvcache.ErrFull):
		s.stats.add(func(st *Stats) { st.Preempted++ })
		s.finish(newest(parts), StopPreempted, "", nil)
	default:
		for _, p := range parts {
			s.finish(p.q, StopError, "", fmt.Errorf("engine: forward pass: %w", err))
		}
	}
}

// sampleNext samples q's next token from logits [n_vocab], emits it and
// decides whether generation goes on.
func (s *Scheduler) sampleNext(q *schedSeq, logits []float32) {
	id, err := s.pick(q, logits)
	if err != nil {
		s.finish(q, StopError, "", fmt.Errorf("engine: sampling: %w", err))
		return
	}
	info := &TokenInfo{ID: id}
	if q.req.Logprobs {
		info.Logprob, _ = sampler.LogprobOf(logits, id)
		info.Top = sampler.TopLogprobs(logits, q.req.TopLogprobs)
	}
	q.samp.Accept(id)
	q.generated++
	s.stats.add(func(st *Stats) { st.GeneratedTokens++ })
	tok := s.e.Tokenizer
	if tok.IsEOG(id) {
		q.out.push(Event{Token: info})
		s.finish(q, StopEOG, "", nil)
		return
	}
	if c := q.req.Constraint; c != nil {
		c.Accept(id, string(tok.Piece(id, true)))
	}
	text, stop := q.addText(q.dec.Add(id))
	q.out.push(Event{Token: info, Text: text})
	switch {
	case stop != "":
		s.finish(q, StopString, stop, nil)
	case q.req.Constraint != nil && q.req.Constraint.Done():
		s.finish(q, StopConstraint, "", nil)
	case q.req.MaxTokens > 0 && q.generated >= q.req.MaxTokens:
		s.finish(q, StopLength, "", nil)
	case len(q.tokens)+1 >= s.opt.MaxSeqLen:
		s.finish(q, StopContext, "", nil)
	default:
		q.pending = id
	}
}

// pick samples a token, honouring the request's Constraint: a refused
// token is masked and sampling repeated up to 8 times, then every refused
// token of the vocabulary is masked at once.
func (s *Scheduler) pick(q *schedSeq, logits []float32) (int32, error) {
	id, err := q.samp.Sample(logits)
	c := q.req.Constraint
	if err != nil || c == nil || s.allowed(c, id) {
		return id, err
	}
	if cap(s.masked) < len(logits) {
		s.masked = make([]float32, len(logits))
	}
	m := s.masked[:len(logits)]
	copy(m, logits)
	ninf := float32(math.Inf(-1))
	for range 8 {
		m[id] = ninf
		if id, err = q.samp.Sample(m); err != nil || s.allowed(c, id) {
			return id, err
		}
	}
	for v := range m {
		if m[v] != ninf && !s.allowed(c, int32(v)) {
			m[v] = ninf
		}
	}
	return q.samp.Sample(m)
}

// allowed asks the constraint about token id.
func (s *Scheduler) allowed(c Constraint, id int32) bool {
	tok := s.e.Tokenizer
	if tok.IsEOG(id) {
		return c.Allow(id, "", true)
	}
	return c.Allow(id, string(tok.Piece(id, true)), false)
}
