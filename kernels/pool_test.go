package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
)

// TestPoolFor checks that For and ForWorker cover [0, n) exactly once in
// grain-aligned chunks with worker indices below Threads(), for many sizes,
// on pools of 1..4 threads, and that a closed pool still runs loops.
func TestPoolFor(t *testing.T) {
	for threads := 1; threads <= 4; threads++ {
		p := NewPool(threads)
		for n := 0; n < 70; n++ {
			for _, grain := range []int{1, 3, 8} {
				hits := make([]int32, n)
				var bad atomic.Bool
				p.ForWorker(n, grain, func(w, lo, hi int) {
					if w < 0 || w >= p.Threads() || lo%grain != 0 || (hi != n && hi%grain != 0) {
						bad.Store(true)
					}
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				if bad.Load() {
					t.Fatalf("threads %d n %d grain %d: bad chunk or worker index", threads, n, grain)
				}
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("threads %d n %d grain %d: index %d run %d times", threads, n, grain, i, h)
					}
				}
			}
		}
		p.Close()
		var sum atomic.Int64
		p.For(100, 1, func(lo, hi int) { sum.Add(int64(hi - lo)) })
		if sum.Load() != 100 {
			t.Fatalf("closed pool covered %d of 100", sum.Load())
		}
		p.Close() // twice is fine
	}
}

// TestPoolConcurrent runs loops from several goroutines at once (they are
// serialised) with workers that may have parked in between.
func TestPoolConcurrent(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				p.For(64, 4, func(lo, hi int) { total.Add(int64(hi - lo)) })
			}
		}()
	}
	wg.Wait()
	if total.Load() != 4*200*64 {
		t.Fatalf("covered %d, want %d", total.Load(), 4*200*64)
	}
}

// BenchmarkPoolFor measures the cost of handing out one loop (the per-call
// overhead of every MatMul of a decode step).
func BenchmarkPoolFor(b *testing.B) {
	p := NewPool(0)
	defer p.Close()
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	for b.Loop() {
		p.For(2, 1, fn)
	}
}
