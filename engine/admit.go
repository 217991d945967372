package engine

import (
	"errors"
	"slices"

	"github.com/dseek-ai/dseek/kvcache"
)

// admit moves queued requests into the running set while there is a free
// slot and, unless nothing runs, KV room for the prompt. Each admitted
// request starts from the longest prefix the prefix cache holds for its
// prompt. The caller holds e.mu.
func (s *Scheduler) admit() {
	for len(s.running) < s.opt.Parallel {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		q := s.queue[0]
		s.mu.Unlock()
		entry, k := s.prefix.lookup(q.req.Prompt)
		k = min(k, len(q.req.Prompt)-1) // the last prompt token is evaluated for its logits
		if len(s.running) > 0 && !s.roomFor(q, k) {
			return // wait for running sequences to finish
		}
		s.mu.Lock()
		if len(s.queue) == 0 || s.queue[0] != q {
			// Shutdown took the queue meanwhile (and ended q).
			s.mu.Unlock()
			continue
		}
		s.queue = s.queue[1:]
		s.nRun = len(s.running) + 1 // counted as running from here on (Submit's bound)
		s.mu.Unlock()
		s.startSeq(q, entry, k)
		q.out.start(q.usage())
		s.admitSeq++
		q.admitted = s.admitSeq
		s.running = append(s.running, q)
		s.stats.add(func(st *Stats) {
			st.Admitted++
			st.PromptTokens += uint64(len(q.req.Prompt))
			st.CachedTokens += uint64(q.cached)
		})
	}
}

// roomFor reports whether the prompt of q, of which the first k tokens are
// cached, fits in the free pages plus those the prefix cache could give up.
func (s *Scheduler) roomFor(q *schedSeq, k int) bool {
	ps := s.e.Cache.Config().PageSize
	need := pagesFor(len(q.req.Prompt)+1, ps) - k/ps
	return need <= s.freePages()+s.prefix.pages(ps)
}

// startSeq gives q a KV cache sequence: a fork of the first k tokens of the
// cached prefix entry, or an empty one. A fork that does not fit even after
// evicting other entries falls back to an empty sequence.
func (s *Scheduler) startSeq(q *schedSeq, entry *prefixEntry, k int) {
	c := s.e.Cache
	if entry != nil && k > 0 {
		for {
			id, err := c.Fork(entry.seq, k)
			if err == nil {
				s.prefix.touch(entry)
				q.seq, q.hasSeq, q.cached = id, true, k
				q.tokens = append(q.tokens[:0], q.req.Prompt[:k]...)
				return
			}
			if !errors.Is(err, kvcache.ErrFull) || !s.prefix.evictLRU(c, entry) {
				break
			}
		}
	}
	q.seq, q.hasSeq, q.cached = c.NewSeq(), true, 0
	q.tokens = q.tokens[:0]
}

// pagesFor is the number of pages n tokens occupy.
func pagesFor(n, pageSize int) int { return (n + pageSize - 1) / pageSize }

// freePages is the number of pages not referenced by any sequence.
func (s *Scheduler) freePages() int { return s.e.Cache.MaxPages() - s.e.Cache.UsedPages() }

// finish ends q: it queues the last text and the final event, removes q
// from the running set, and hands its KV cache to the prefix cache (normal
// ends) or frees it (cancelled, preempted or failed requests). The caller
// holds e.mu.
func (s *Scheduler) finish(q *schedSeq, reason, stop string, err error) {
	var text string
	if reason != StopString && reason != StopCancelled && reason != StopError && reason != StopRejected {
		text = q.flushText()
	}
	if text != "" {
		q.out.push(Event{Text: text})
	}
	q.out.push(Event{Done: true, Reason: reason, StopString: stop, Usage: q.usage(), Err: err})
	if i := slices.Index(s.running, q); i >= 0 {
		s.running = slices.Delete(s.running, i, i+1)
	}
	s.mu.Lock()
	s.nRun = len(s.running)
	s.mu.Unlock()
	if q.hasSeq {
		q.hasSeq = false
		if reason == StopCancelled || reason == StopError || reason == StopPreempted || s.prefix.disabled {
			s.e.Cache.Free(q.seq)
		} else {
			s.prefix.insert(s.e.Cache, q.tokens, q.seq)
		}
	}
	if q.unwake != nil {
		q.unwake()
	}
	s.countFinished(reason)
}

// countFinished counts a request that ended, by its stop reason.
func (s *Scheduler) countFinished(reason string) {
	s.stats.add(func(st *Stats) {
		st.Finished++
		if st.FinishedBy == nil {
			st.FinishedBy = map[string]uint64{}
		}
		st.FinishedBy[reason]++
	})
}
