package bench

import (
	"errors"
	"sync"
	"time"
	"unsafe"

	"github.com/dseek-ai/dseek/internal/hugepage"
)

// BandwidthResult is a memory read-bandwidth measurement.
type BandwidthResult struct {
	GBps    float64 // best read bandwidth over the passes, 1e9 bytes/s
	Bytes   int64   // buffer size
	Threads int
	Passes  int
	// HugePages: the buffer was in memory advised for transparent huge
	// pages, as the weights are with engine.HugePages (so the bound is not
	// lowered by TLB misses the weights do not take).
	HugePages bool
}

// probeStreams is the number of independent sequential streams each thread
// reads: several streams keep enough cache-line misses in flight for one core
// to approach what the memory bus delivers (one stream per core stays
// latency-bound on this class of machine).
const probeStreams = 8

// MeasureBandwidth measures the machine's memory read bandwidth: threads
// goroutines each read their share of a buffer of bufBytes (far larger than
// the caches; on transparent huge pages where Linux has them) as
// probeStreams sequential streams, one 8-byte load per 64-byte
// cache line (the whole line still comes from memory), passes times; the
// fastest pass counts. The result is the bus bandwidth a decode step, one
// streaming pass over the weights, could at best use. Errors: bufBytes <
// 1 MiB, threads or passes < 1.
func MeasureBandwidth(threads int, bufBytes int64, passes int) (BandwidthResult, error) {
	if bufBytes < 1<<20 || threads < 1 || passes < 1 {
		return BandwidthResult{}, errors.New("bench: bandwidth probe needs >= 1 MiB, >= 1 thread and >= 1 pass")
	}
	unit := 8 * probeStreams * threads // words: whole cache lines per stream
	n := int(bufBytes/8) / unit * unit
	buf, huge, release := probeBuffer(n)
	defer release()
	for i := range buf {
		buf[i] = uint64(i) // make every page resident and distinct
	}
	per := n / threads
	sinks := make([]uint64, threads)
	best := time.Duration(1<<63 - 1)
	for p := 0; p < passes; p++ {
		var wg sync.WaitGroup
		start := time.Now()
		for t := 0; t < threads; t++ {
			wg.Add(1)
			go func(t int) {
				defer wg.Done()
				sinks[t] += readLines(buf[t*per : (t+1)*per])
			}(t)
		}
		wg.Wait()
		if d := time.Since(start); d < best {
			best = d
		}
	}
	var check uint64
	for _, s := range sinks {
		check += s
	}
	if check == 0 {
		return BandwidthResult{}, errors.New("bench: bandwidth probe read nothing")
	}
	total := int64(per) * int64(threads) * 8
	return BandwidthResult{GBps: float64(total) / best.Seconds() / 1e9, Bytes: total, Threads: threads, Passes: passes, HugePages: huge}, nil
}

// probeBuffer returns n words in a huge-page arena when THP is enabled (the
// fastest memory a decode reads from), else on the heap, and the function
// that releases them.
func probeBuffer(n int) (buf []uint64, huge bool, release func()) {
	if a, err := hugepage.New(int64(n) * 8); err == nil {
		if b, err := a.Alloc(n * 8); err == nil && a.Huge() && n > 0 {
			return unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), n), true, func() { a.Close() }
		}
		a.Close()
	}
	return make([]uint64, n), false, func() {}
}

// readLines loads one word of every cache line of b, walking probeStreams
// equal parts of b side by side, and returns their sum.
func readLines(b []uint64) uint64 {
	q := len(b) / probeStreams
	var s0, s1, s2, s3, s4, s5, s6, s7 uint64
	for i := 0; i+8 <= q; i += 8 {
		s0 += b[i]
		s1 += b[q+i]
		s2 += b[2*q+i]
		s3 += b[3*q+i]
		s4 += b[4*q+i]
		s5 += b[5*q+i]
		s6 += b[6*q+i]
		s7 += b[7*q+i]
	}
	return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7
}
