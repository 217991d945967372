package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/dseek-ai/dseek/model"
	"github.com/dseek-ai/dseek/sampler"
)

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Parallel bounds the sequences that run at once (share decode steps);
	// 0 means 4.
	Parallel int
	// MaxQueue bounds the requests waiting for a free slot beyond Parallel;
	// Submit returns ErrQueueFull past it. 0 means 64; < 0 means no queue.
	MaxQueue int
	// MaxSeqLen is the most tokens one sequence may hold (prompt +
	// generated); 0 means the smaller of the KV cache capacity and the
	// model's training context (n_ctx_train). It is capped to the KV cache
	// capacity.
	MaxSeqLen int
	// PrefixCacheBytes bounds the KV memory the prefix cache keeps for
	// finished sequences (counted per cached token, shared pages counted
	// once per entry); 0 means no bound besides the KV cache itself (cached
	// prefixes are evicted, least recently used first, when running
	// sequences need room); < 0 disables the prefix cache.
	PrefixCacheBytes int64
	// CacheDir, if set, is where the prefix cache is saved at Shutdown (and
	// when idle, see PersistInterval) and loaded from by NewScheduler. See
	// persist.go for the format.
	CacheDir string
	// PersistInterval saves a changed prefix cache to CacheDir when the
	// scheduler is idle and this long has passed since the last save; 0
	// saves only at Shutdown.
	PersistInterval time.Duration
	// Logger receives warnings (a rejected cache file) and info lines; nil
	// discards them.
	Logger *slog.Logger
}

// Scheduler runs many requests on one Engine with continuous batching: every
// step is one model forward pass carrying the next token of each decoding
// sequence plus a chunk of prompt (chunked prefill) for sequences still
// reading their prompt, at most Engine.Options().UBatch tokens in all
// (decode tokens first). Requests join and leave between steps. Each has its
// own sampler, stop strings and token budget. A prefix cache keeps the KV of
// finished sequences (as copy-on-write forks) so a new request sharing a
// token prefix skips prefilling it (Orca: Yu et al. 2022 for iteration-level
// scheduling; vLLM's chunked prefill and automatic prefix caching).
//
// The scheduler owns one goroutine, started by NewScheduler and ended by
// Shutdown. Forward passes hold the Engine's lock, so Sequence.Eval callers
// interleave with scheduler steps.
type Scheduler struct {
	e   *Engine
	opt SchedulerOptions
	log *slog.Logger

	mu      sync.Mutex
	queue   []*schedSeq // waiting, in arrival order
	closing bool        // Shutdown has begun: Submit refuses
	nRun    int         // len(running), for Submit's queue bound

	wake    chan struct{} // capacity 1: something changed
	abort   chan struct{} // closed when Shutdown's context ends: cancel everything
	exited  chan struct{} // closed when the loop returns
	runCtx  context.Context
	stopRun context.CancelFunc

	// Owned by the loop goroutine (and guarded by e.mu while it touches the
	// cache).
	running  []*schedSeq
	prefix   *prefixCache
	batch    model.Batch
	logits   []float32 // [n_outputs, n_vocab]
	masked   []float32 // [n_vocab] scratch for constrained sampling
	admitSeq uint64
	lastSave time.Time

	stats statsBox
}

// NewScheduler starts a scheduler on e. If opt.CacheDir holds a saved
// prefix cache for this model it is loaded (a missing, stale or corrupt
// file is logged and ignored). It returns an error only for a CacheDir that
// cannot be created.
func NewScheduler(e *Engine, opt SchedulerOptions) (*Scheduler, error) {
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.MaxQueue == 0 {
		opt.MaxQueue = 64
	}
	capacity := e.Cache.MaxPages() * e.Cache.Config().PageSize
	if opt.MaxSeqLen <= 0 {
		opt.MaxSeqLen = capacity
		if n := e.Model.Config.NCtxTrain; n > 0 && n < opt.MaxSeqLen {
			opt.MaxSeqLen = n
		}
	}
	opt.MaxSeqLen = min(opt.MaxSeqLen, capacity)
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Scheduler{
		e: e, opt: opt, log: log,
		wake: make(chan struct{}, 1), abort: make(chan struct{}), exited: make(chan struct{}),
		prefix: newPrefixCache(opt.PrefixCacheBytes, e.Cache.Config().BytesPerToken()),
	}
	s.runCtx, s.stopRun = context.WithCancel(context.Background())
	if opt.CacheDir != "" && !s.prefix.disabled {
		if err := s.loadPrefixCache(); err != nil {
			return nil, err
		}
	}
	s.lastSave = time.Now()
	s.e.mu.Lock()
	s.publishLoop()
	s.e.mu.Unlock()
	s.publish()
	go s.loop()
	return s, nil
}

// MaxSeqLen is the most tokens one request may hold (prompt + generated).
func (s *Scheduler) MaxSeqLen() int { return s.opt.MaxSeqLen }

// Options returns the options the scheduler runs with (defaults filled in).
func (s *Scheduler) Options() SchedulerOptions { return s.opt }

// Submit queues a request and returns the stream of its events. Cancelling
// ctx ends the request at the next step boundary and frees its KV cache at
// once. It returns a *BadRequestError (errors.Is ErrBadRequest) for an
// empty prompt, a token id outside the vocabulary (in the prompt or the
// logit bias) or a logit bias that is not finite, a *PromptTooLongError
// (errors.Is ErrPromptTooLong) for a prompt of MaxSeqLen tokens or more,
// ErrQueueFull when the wait queue is full, and ErrClosed after Shutdown has
// begun.
func (s *Scheduler) Submit(ctx context.Context, req Request) (*Stream, error) {
	if err := s.checkRequest(&req); err != nil {
		return nil, err
	}
	q := &schedSeq{
		req: req, ctx: ctx, out: newStream(), submitted: time.Now(),
		samp: sampler.New(req.Sampling),
		dec:  s.e.Tokenizer.NewStreamDecoder(req.Special),
	}
	s.mu.Lock()
	switch {
	case s.closing:
		s.mu.Unlock()
		return nil, ErrClosed
	case len(s.queue) >= max(s.opt.MaxQueue, 0)+max(0, s.opt.Parallel-s.nRun):
		s.mu.Unlock()
		s.stats.add(func(st *Stats) { st.Rejected++ })
		return nil, ErrQueueFull
	}
	s.queue = append(s.queue, q)
	s.mu.Unlock()
	q.unwake = context.AfterFunc(ctx, s.signal)
	s.signal()
	s.publish()
	return q.out, nil
}

// Check returns the error Submit would return for req's contents
// (*BadRequestError, *PromptTooLongError), without queueing it: for callers
// that answer some requests without generating (an echo of the prompt
// alone).
func (s *Scheduler) Check(req Request) error { return s.checkRequest(&req) }

// checkRequest validates the prompt and the logit bias and clamps
// TopLogprobs.
func (s *Scheduler) checkRequest(req *Request) error {
	if len(req.Prompt) == 0 {
		return &BadRequestError{Reason: "empty prompt"}
	}
	nv := int32(s.e.Model.Config.NVocab)
	for i, id := range req.Prompt {
		if id < 0 || id >= nv {
			return &BadRequestError{Reason: fmt.Sprintf("token id %d at prompt index %d is outside the vocabulary [0, %d)", id, i, nv)}
		}
	}
	for id, b := range req.Sampling.LogitBias {
		switch {
		case id < 0 || id >= nv:
			return &BadRequestError{Reason: fmt.Sprintf("logit bias for token id %d, outside the vocabulary [0, %d)", id, nv)}
		case math.IsNaN(b) || math.IsInf(b, 0):
			return &BadRequestError{Reason: fmt.Sprintf("logit bias %v for token id %d is not a finite number", b, id)}
		}
	}
	if len(req.Prompt) >= s.opt.MaxSeqLen {
		return &PromptTooLongError{Tokens: len(req.Prompt), MaxSeqLen: s.opt.MaxSeqLen}
	}
	req.TopLogprobs = min(max(req.TopLogprobs, 0), 20)
	return nil
}

// signal wakes the loop (never blocks).
func (s *Scheduler) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Shutdown stops accepting requests, ends the queued ones that have not
// started at once (their streams end with StopRejected and ErrClosed, so
// their clients can retry elsewhere) and lets the running ones finish.
// When ctx ends first, everything left is cancelled (streams end with
// StopCancelled). The prefix cache is then saved to CacheDir, if set, and
// the loop goroutine exits. It returns ctx.Err() if it had to cancel, or an
// error from saving the cache.
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	first := !s.closing
	s.closing = true
	queue := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, q := range queue {
		s.endQueued(q, StopRejected, ErrClosed)
	}
	s.publish()
	s.signal()
	var err error
	select {
	case <-s.exited:
	case <-ctx.Done():
		err = ctx.Err()
		if first {
			close(s.abort)
		}
		s.stopRun()
		<-s.exited
	}
	if first && s.opt.CacheDir != "" && !s.prefix.disabled {
		if serr := s.savePrefixCache(); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

// loop is the scheduler goroutine.
func (s *Scheduler) loop() {
	defer close(s.exited)
	defer s.stopRun()
	for {
		aborted := false
		select {
		case <-s.abort:
			aborted = true
		default:
		}
		s.e.mu.Lock()
		if aborted {
			s.cancelAll()
		}
		s.dropCancelled()
		s.admit()
		if len(s.running) > 0 {
			s.step()
		}
		idle := len(s.running) == 0
		s.publishLoop()
		s.e.mu.Unlock()
		s.publish()
		if !idle {
			continue
		}
		s.mu.Lock()
		done := s.closing && len(s.queue) == 0
		s.mu.Unlock()
		if done || aborted {
			return
		}
		s.idleWait()
	}
}

// idleWait blocks until something happens, saving the prefix cache when it
// has changed and PersistInterval has passed.
func (s *Scheduler) idleWait() {
	var timer <-chan time.Time
	if s.opt.PersistInterval > 0 && s.opt.CacheDir != "" && s.prefix.dirty {
		wait := s.opt.PersistInterval - time.Since(s.lastSave)
		if wait <= 0 {
			if err := s.savePrefixCache(); err != nil {
				s.log.Warn("prefix cache: save failed", "err", err)
			}
			return
		}
		timer = time.After(wait)
	}
	select {
	case <-s.wake:
	case <-s.abort:
	case <-timer:
	}
}

// endQueued ends q, which was taken off the wait queue without running:
// its final event, and nothing else to release. Any goroutine may call it.
func (s *Scheduler) endQueued(q *schedSeq, reason string, err error) {
	q.out.push(Event{Done: true, Reason: reason, Usage: q.usage(), Err: err})
	if q.unwake != nil {
		q.unwake()
	}
	s.countFinished(reason)
}

// cancelAll ends every queued and running request with StopCancelled.
func (s *Scheduler) cancelAll() {
	s.mu.Lock()
	queue := s.queue
	s.queue = nil
	s.mu.Unlock()
	for _, q := range queue {
		s.finish(q, StopCancelled, "", nil)
	}
	for len(s.running) > 0 {
		s.finish(s.running[len(s.running)-1], StopCancelled, "", nil)
	}
}

// dropCancelled ends the requests whose context is done, queued or running.
func (s *Scheduler) dropCancelled() {
	s.mu.Lock()
	var gone []*schedSeq
	keep := s.queue[:0]
	for _, q := range s.queue {
		if q.ctx.Err() != nil {
			gone = append(gone, q)
		} else {
			keep = append(keep, q)
		}
	}
	clear(s.queue[len(keep):])
	s.queue = keep
	s.mu.Unlock()
	for _, q := range gone {
		s.finish(q, StopCancelled, "", nil)
	}
	for i := len(s.running) - 1; i >= 0; i-- {
		if q := s.running[i]; q.ctx.Err() != nil {
			s.finish(q, StopCancelled, "", nil)
		}
	}
}
