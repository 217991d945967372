package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs data-parallel loops on a fixed set of worker goroutines.
//
// A Pool is owned by whoever created it (normally the engine, one per loaded
// model) and is passed to every kernel; there is no package-level pool. The
// calling goroutine takes part in the work, so a Pool of n threads starts n-1
// workers. Calls from different goroutines are serialised; a loop body must
// not call back into the same Pool.
//
// Every job is a queue of work items claimed with an atomic counter. The
// caller starts on the items at once and never waits for a worker that has
// not joined yet: it waits only for workers still finishing an item they
// claimed. So a job costs well under a microsecond to hand out when the
// workers are spinning (they poll for spinFor after each job before they
// park on a channel), and on a machine busy with other processes it
// degrades to the caller doing the work alone instead of stalling.
type Pool struct {
	threads  int
	mu       sync.Mutex // serialises jobs
	gen      atomic.Uint64
	finished atomic.Uint64 // last generation whose items are all claimed
	inflight atomic.Int32  // workers inside the current job
	job      task
	workers  []*poolWorker
	wg       sync.WaitGroup
	closed   atomic.Bool
	forJob   forTask
}

// task is one parallel job: run(w) claims and processes items until none
// is left; it is called by the caller and by every worker that joins, w
// being the participant's index (0 <= w < Threads()).
type task interface{ run(w int) }

type poolWorker struct {
	sleeping atomic.Int32
	wake     chan struct{}
	_        [48]byte // keep workers' hot fields on separate cache lines
}

// spinFor is how long an idle worker polls for the next job before parking.
const spinFor = 100 * time.Microsecond

// NewPool returns a pool running loops on threads goroutines (threads <= 0
// means runtime.NumCPU()).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads}
	for i := 0; i < threads-1; i++ {
		w := &poolWorker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		p.wg.Add(1)
		go p.loop(i, w)
	}
	return p
}

// loop is worker i's body: wait for a new generation, join its job unless
// the caller already claimed every item, repeat.
func (p *Pool) loop(i int, w *poolWorker) {
	defer p.wg.Done()
	var seen uint64
	for {
		g := p.waitGen(seen, w)
		if p.closed.Load() {
			return
		}
		seen = g
		p.inflight.Add(1)
		if p.finished.Load() < g {
			// The caller waits for inflight to drop to zero before it
			// returns, so p.job is the job of generation g here.
			p.job.run(i)
		}
		p.inflight.Add(-1)
	}
}

// waitGen spins, then parks, until the generation differs from seen.
func (p *Pool) waitGen(seen uint64, w *poolWorker) uint64 {
	start := time.Now()
	for n := 0; ; n++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if n&63 == 63 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
		spinPause()
	}
	for {
		w.sleeping.Store(1)
		if g := p.gen.Load(); g != seen {
			if !w.sleeping.CompareAndSwap(1, 0) {
				<-w.wake // the dispatcher claimed us and sent (or will send) a token
			}
			return g
		}
		<-w.wake
		if g := p.gen.Load(); g != seen {
			return g
		}
	}
}

// run executes t on the caller and whichever workers join, returning when
// every item is done.
func (p *Pool) run(t task) {
	if p == nil || p.threads == 1 {
		t.run(0)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.runLocked(t)
}

// runLocked is run with p.mu held.
func (p *Pool) runLocked(t task) {
	if p.closed.Load() {
		t.run(p.threads - 1)
		return
	}
	p.job = t
	g := p.gen.Add(1)
	for _, w := range p.workers {
		if w.sleeping.Load() == 1 && w.sleeping.CompareAndSwap(1, 0) {
			w.wake <- struct{}{}
		}
	}
	t.run(p.threads - 1)
	p.finished.Store(g)
	for n := 0; p.inflight.Load() != 0; n++ {
		if n&15 == 15 {
			runtime.Gosched()
		} else {
			spinPause()
		}
	}
	p.job = nil
}

// Threads is the number of goroutines (including the caller) that run a loop.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// For splits [0, n) into at most Threads() contiguous chunks whose sizes are
// multiples of grain (except the last) and calls fn(lo, hi) for each, in
// parallel, returning when all are done. A nil Pool runs fn(0, n) inline.
func (p *Pool) For(n, grain int, fn func(lo, hi int)) {
	p.forEach(n, grain, fn, nil)
}

// ForWorker is For with the index of the chunk (0 <= w < Threads()) passed to
// fn, so each chunk can use its own scratch memory.
func (p *Pool) ForWorker(n, grain int, fn func(w, lo, hi int)) {
	p.forEach(n, grain, nil, fn)
}

func (p *Pool) forEach(n, grain int, fn func(lo, hi int), fnw func(w, lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if p == nil || p.threads == 1 || n <= grain {
		if fn != nil {
			fn(0, n)
		} else {
			fnw(0, 0, n)
		}
		return
	}
	units := (n + grain - 1) / grain
	p.mu.Lock()
	defer p.mu.Unlock()
	f := &p.forJob
	f.fn, f.fnw, f.n, f.grain, f.units, f.parts = fn, fnw, n, grain, units, min(p.threads, units)
	f.next.Store(0)
	p.runLocked(f)
	f.fn, f.fnw = nil, nil
}

// forTask is For's split into parts chunks, claimed by whoever is free;
// chunk i gets units/parts grains, the first units%parts one more.
type forTask struct {
	fn              func(lo, hi int)
	fnw             func(w, lo, hi int)
	n, grain, units int
	parts           int
	next            atomic.Int64
}

func (f *forTask) run(int) {
	for {
		i := int(f.next.Add(1)) - 1
		if i >= f.parts {
			return
		}
		u, extra := f.units/f.parts, f.units%f.parts
		lo := i*u + min(i, extra)
		cnt := u
		if i < extra {
			cnt++
		}
		l, h := lo*f.grain, min((lo+cnt)*f.grain, f.n)
		if l >= h {
			continue
		}
		if f.fn != nil {
			f.fn(l, h)
		} else {
			f.fnw(i, l, h)
		}
	}
}

// Close stops the workers. A closed Pool still runs loops, on the caller only.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	p.gen.Add(1)
	for _, w := range p.workers {
		if w.sleeping.CompareAndSwap(1, 0) {
			w.wake <- struct{}{}
		}
	}
	p.wg.Wait()
}
