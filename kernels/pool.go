package kernels

import (
	"runtime"
	"sync"
)

// Pool runs data-parallel loops on a fixed set of worker goroutines.
//
// A Pool is owned by whoever created it (normally the engine, one per loaded
// model) and is passed to every kernel; there is no package-level pool. The
// calling goroutine takes part in the work, so a Pool of n threads starts n-1
// workers. Calls to For from different goroutines are serialised.
type Pool struct {
	threads int
	mu      sync.Mutex // serialises For
	work    chan task
	wg      sync.WaitGroup
	closed  bool
}

type task struct {
	fn     func(w, lo, hi int)
	w      int
	lo, hi int
	done   *sync.WaitGroup
}

// NewPool returns a pool running loops on threads goroutines (threads <= 0
// means runtime.NumCPU()).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, work: make(chan task, threads)}
	for i := 1; i < threads; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.work {
				t.fn(t.w, t.lo, t.hi)
				t.done.Done()
			}
		}()
	}
	return p
}

// Threads is the number of goroutines (including the caller) that run a loop.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// For splits [0, n) into at most Threads() contiguous chunks whose sizes are
// multiples of grain (except the last) and calls fn(lo, hi) for each, one per
// goroutine, returning when all are done. A nil Pool runs fn(0, n) inline.
func (p *Pool) For(n, grain int, fn func(lo, hi int)) {
	p.ForWorker(n, grain, func(_, lo, hi int) { fn(lo, hi) })
}

// ForWorker is For with the index of the chunk (0 <= w < Threads()) passed to
// fn, so each chunk can use its own scratch memory.
func (p *Pool) ForWorker(n, grain int, fn func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if p == nil || p.threads == 1 || n <= grain {
		fn(0, 0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		fn(0, 0, n)
		return
	}
	units := (n + grain - 1) / grain
	parts := p.threads
	if parts > units {
		parts = units
	}
	var done sync.WaitGroup
	lo := 0
	for i := 0; i < parts; i++ {
		u := units / parts
		if i < units%parts {
			u++
		}
		hi := lo + u*grain
		if hi > n {
			hi = n
		}
		if i == parts-1 {
			// The caller runs the last chunk itself.
			fn(i, lo, hi)
			done.Wait()
			return
		}
		done.Add(1)
		p.work <- task{fn: fn, w: i, lo: lo, hi: hi, done: &done}
		lo = hi
	}
}

// Close stops the workers. A closed Pool still runs loops, on the caller only.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.work)
	}
	p.mu.Unlock()
	p.wg.Wait()
}
