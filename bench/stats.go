// Package bench measures prompt processing (pp) and token generation (tg)
// speed the way llama.cpp's llama-bench does, reports it in llama-bench's
// markdown and JSON formats, and relates decode speed to the machine's
// memory bandwidth (`dseek bench`).
package bench

import "math"

// Mean is the arithmetic mean of v (0 for an empty slice).
func Mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// Stddev is the sample standard deviation of v (divisor n-1), 0 for fewer
// than two values — llama-bench's stdev().
func Stddev(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	m := Mean(v)
	var s float64
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return math.Sqrt(s / float64(len(v)-1))
}

// TokensPerSecond converts per-repetition times in ns into tokens/s for n
// tokens each (llama-bench's get_ts: 1e9·n/ns).
func TokensPerSecond(n int, samplesNs []uint64) []float64 {
	ts := make([]float64, len(samplesNs))
	for i, ns := range samplesNs {
		if ns > 0 {
			ts[i] = 1e9 * float64(n) / float64(ns)
		}
	}
	return ts
}

// nsStats returns the mean and sample standard deviation of ns samples,
// truncated to integers as llama-bench prints them.
func nsStats(samples []uint64) (avg, sd uint64) {
	f := make([]float64, len(samples))
	for i, s := range samples {
		f[i] = float64(s)
	}
	return uint64(Mean(f)), uint64(Stddev(f))
}
