package kernels

import (
	"sync/atomic"
	"time"
)

// MeasureBandwidth returns the memory read bandwidth in GB/s (1e9 bytes per
// second) that the pool's threads reach streaming a buffer of size bytes
// (256 MiB when size <= 0), the best of several passes. Decode reads every
// weight once per token, so tokens/s <= bandwidth / weight bytes; `dseek
// bench` reports its figures against this bound. It allocates the buffer
// for the duration of the call and takes about a second.
func MeasureBandwidth(p *Pool, size int) float64 {
	if size <= 0 {
		size = 256 << 20
	}
	size &^= 4095
	buf := make([]byte, size)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = byte(i >> 12) // fault the pages in
	}
	j := &bwJob{buf: buf, chunk: 1 << 20}
	best := 0.0
	start := time.Now()
	for pass := 0; pass < 20 && (pass < 3 || time.Since(start) < time.Second); pass++ {
		j.next.Store(0)
		t0 := time.Now()
		p.run(j)
		if gbs := float64(size) / time.Since(t0).Seconds() / 1e9; gbs > best {
			best = gbs
		}
	}
	return best
}

// bwJob streams buf in chunks handed out to the pool's threads.
type bwJob struct {
	buf   []byte
	chunk int
	next  atomic.Int64
	sink  atomic.Uint64
}

func (j *bwJob) run(int) {
	var s uint64
	for {
		lo := int(j.next.Add(int64(j.chunk))) - j.chunk
		if lo >= len(j.buf) {
			break
		}
		hi := min(lo+j.chunk, len(j.buf))
		s += sumBytes(j.buf[lo:hi])
	}
	j.sink.Add(s)
}

// sumBytesGo is Σ of buf read as little-endian uint64 words (wrapping);
// len(buf) is a multiple of 256. It exists to read memory as fast as the
// CPU can.
func sumBytesGo(buf []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for i := 0; i+32 <= len(buf); i += 32 {
		b := (*[32]byte)(buf[i : i+32])
		s0 += uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 | uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		s1 += uint64(b[8]) | uint64(b[9])<<8 | uint64(b[10])<<16 | uint64(b[11])<<24 | uint64(b[12])<<32 | uint64(b[13])<<40 | uint64(b[14])<<48 | uint64(b[15])<<56
		s2 += uint64(b[16]) | uint64(b[17])<<8 | uint64(b[18])<<16 | uint64(b[19])<<24 | uint64(b[20])<<32 | uint64(b[21])<<40 | uint64(b[22])<<48 | uint64(b[23])<<56
		s3 += uint64(b[24]) | uint64(b[25])<<8 | uint64(b[26])<<16 | uint64(b[27])<<24 | uint64(b[28])<<32 | uint64(b[29])<<40 | uint64(b[30])<<48 | uint64(b[31])<<56
	}
	return s0 + s1 + s2 + s3
}
