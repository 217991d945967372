package engine

import (
	"maps"
	"sync"
)

// Stats is a snapshot of a Scheduler for monitoring. Counters (the uint64
// fields) only grow over the scheduler's life.
type Stats struct {
	// Running is the number of sequences in the running set (prefilling or
	// decoding); Waiting the number of queued requests.
	Running, Waiting int
	// Parallel and MaxQueue are the configured bounds.
	Parallel, MaxQueue int
	// KVPagesUsed is the KV cache pages referenced by any sequence,
	// including the prefix cache; KVPagesActive those referenced by running
	// sequences (shared pages counted once per sequence, capped at
	// KVPagesUsed); KVPagesTotal the cache size; KVPageSize tokens per page.
	KVPagesUsed, KVPagesActive, KVPagesTotal, KVPageSize int
	// PrefixEntries and PrefixTokens describe the prefix cache.
	PrefixEntries, PrefixTokens int

	// Admitted and Finished count requests that entered and left the
	// running set (Finished also counts requests cancelled while queued);
	// FinishedBy splits Finished by stop reason. Rejected counts ErrQueueFull.
	Admitted, Finished, Rejected uint64
	FinishedBy                   map[string]uint64
	// PromptTokens is the prompt tokens of admitted requests; CachedTokens
	// those served from the prefix cache; PrefillTokens those evaluated.
	PromptTokens, CachedTokens, PrefillTokens uint64
	// GeneratedTokens is the tokens sampled.
	GeneratedTokens uint64
	// Steps is the forward passes run; StepTokens the tokens they carried.
	Steps, StepTokens uint64
	// Preempted counts sequences ended early (StopPreempted) because the KV
	// cache had no room for them.
	Preempted uint64
}

// statsBox guards the scheduler's Stats.
type statsBox struct {
	mu sync.Mutex
	st Stats
}

// add applies f to the stats under the lock.
func (b *statsBox) add(f func(*Stats)) {
	b.mu.Lock()
	f(&b.st)
	b.mu.Unlock()
}

// Stats returns a snapshot of the scheduler's state and counters.
func (s *Scheduler) Stats() Stats {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	st := s.stats.st
	st.FinishedBy = maps.Clone(st.FinishedBy)
	return st
}

// publish refreshes the gauges of the stats. Gauges owned by the loop
// (running set, cache) are read here without e.mu only from the loop
// goroutine or before it starts; Submit refreshes only the queue length.
func (s *Scheduler) publish() {
	s.mu.Lock()
	waiting := len(s.queue)
	s.mu.Unlock()
	s.stats.add(func(st *Stats) {
		st.Waiting = waiting
		st.Parallel, st.MaxQueue = s.opt.Parallel, s.opt.MaxQueue
	})
}

// publishLoop refreshes the gauges owned by the loop goroutine; the caller
// holds e.mu.
func (s *Scheduler) publishLoop() {
	c := s.e.Cache
	ps := c.Config().PageSize
	active := 0
	for _, q := range s.running {
		if q.hasSeq {
			active += pagesFor(c.Len(q.seq), ps)
		}
	}
	used := c.UsedPages()
	s.stats.add(func(st *Stats) {
		st.Running = len(s.running)
		st.KVPagesUsed, st.KVPagesActive = used, min(active, used)
		st.KVPagesTotal, st.KVPageSize = c.MaxPages(), ps
		st.PrefixEntries, st.PrefixTokens = len(s.prefix.entries), s.prefix.tokens
	})
}
