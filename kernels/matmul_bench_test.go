package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/impl"
)

// benchShape is one weight matrix of a real model.
type benchShape struct {
	name       string
	rows, cols int
}

// Real shapes (rows = output features, cols = input features):
// DeepSeek-V2-Lite (n_embd 2048, expert FFN 1408, 16 heads × 192 q dims,
// kv_a 512+64, vocab 102400), DeepSeek-R1-Distill-Qwen-1.5B (1536 × 8960,
// vocab 151936) and DeepSeek-V3 (n_embd 7168, expert FFN 2048).
var benchShapes = []benchShape{
	{"v2lite_exp_up", 1408, 2048},
	{"v2lite_exp_down", 2048, 1408},
	{"v2lite_q", 3072, 2048},
	{"v2lite_kv_a", 576, 2048},
	{"qwen1.5b_up", 8960, 1536},
	{"qwen1.5b_down", 1536, 8960},
	{"v3_exp_up", 2048, 7168},
	{"v3_exp_down", 7168, 2048},
	{"v2lite_output", 102400, 2048},
	{"qwen1.5b_output", 151936, 1536},
}

// benchTypes are the formats benchmarked at every shape; the others are
// benchmarked at one shape.
var benchTypes = []dtype.Type{dtype.Q4_K, dtype.Q5_K, dtype.Q6_K, dtype.Q8_0, dtype.Q4_0, dtype.F16, dtype.BF16}

// fallbackType is the type llama-quantize writes instead of a K-quant when
// a row (V2-Lite's 1408-wide expert down projection) is not a multiple of
// 256: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0 (llama_tensor_get_type).
func fallbackType(t dtype.Type, cols int) dtype.Type {
	if cols%t.BlockSize() == 0 {
		return t
	}
	switch t {
	case dtype.Q4_K:
		return dtype.Q5_0
	case dtype.Q5_K:
		return dtype.Q5_1
	}
	return dtype.Q8_0
}

// benchMatrix returns a rows×cols matrix of t whose rows repeat 16 distinct
// quantized rows (quantizing every row of a vocabulary matrix would
// dominate the benchmark's set-up time).
func benchMatrix(b *testing.B, t dtype.Type, rows, cols int) Matrix {
	r := rand.New(rand.NewPCG(1, uint64(t)))
	seed := randMatrix(b, r, t, 16, cols, 0)
	data := make([]byte, rows*seed.RowBytes)
	for i := 0; i < rows; i++ {
		copy(data[i*seed.RowBytes:], seed.Row(i%16))
	}
	m, err := NewMatrix(t, rows, cols, data)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func benchImpls() []impl.Variant {
	var out []impl.Variant
	for _, v := range impl.Variants("kernels") {
		if v.Name == "generic" {
			v.Name = "go"
		}
		out = append(out, v)
	}
	return out
}

// BenchmarkMatMul measures decode (n = 1) and prefill (n = 512) at the real
// shapes, every implementation side by side. SetBytes is the weight bytes,
// so MB/s is the weight streaming rate; tok/s is activation rows per second
// and x_membw the ratio of the weight rate to MeasureBandwidth (decode only).
func BenchmarkMatMul(b *testing.B) {
	pool := NewPool(0)
	defer pool.Close()
	bw := MeasureBandwidth(pool, 256<<20)
	for _, v := range benchImpls() {
		for _, sh := range benchShapes {
			for _, t := range benchTypes {
				t := fallbackType(t, sh.cols)
				for _, n := range []int{1, 512} {
					if n > 1 && sh.rows*sh.cols > 64<<20 {
						continue // prefill of vocabulary matrices: minutes per run
					}
					if v.Name == "go" && (n > 1 || sh.rows*sh.cols > 16<<20) {
						continue // pure Go: decode at model shapes only
					}
					name := fmt.Sprintf("%s/%s/%s/n=%d", v.Name, sh.name, t, n)
					b.Run(name, func(b *testing.B) {
						restore, err := impl.Select("kernels", v.Select...)
						if err != nil {
							b.Fatal(err)
						}
						defer restore()
						benchOne(b, pool, t, sh, n, bw)
					})
				}
			}
		}
	}
}

// BenchmarkMatMulTypes runs the remaining formats at one decode and one
// prefill shape.
func BenchmarkMatMulTypes(b *testing.B) {
	pool := NewPool(0)
	defer pool.Close()
	bw := MeasureBandwidth(pool, 256<<20)
	sh := benchShape{"v2lite_exp_up", 1408, 2048}
	for _, v := range benchImpls() {
		for _, t := range weightTypes {
			for _, n := range []int{1, 64} {
				b.Run(fmt.Sprintf("%s/%s/n=%d", v.Name, t, n), func(b *testing.B) {
					restore, err := impl.Select("kernels", v.Select...)
					if err != nil {
						b.Fatal(err)
					}
					defer restore()
					benchOne(b, pool, t, sh, n, bw)
				})
			}
		}
	}
}

func benchOne(b *testing.B, pool *Pool, t dtype.Type, sh benchShape, n int, bw float64) {
	w := benchMatrix(b, t, sh.rows, sh.cols)
	benchRun(b, pool, &w, sh, n, bw)
}

func benchRun(b *testing.B, pool *Pool, wp *Matrix, sh benchShape, n int, bw float64) {
	w := *wp
	r := rand.New(rand.NewPCG(2, 3))
	x := randFloats(r, n*sh.cols, 1)
	y := make([]float32, n*sh.rows)
	var ws Workspace
	b.SetBytes(int64(len(w.Data)))
	if pool == nil {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	c0, p0 := threadCPU(), processCPU()
	b.ResetTimer()
	for b.Loop() {
		if err := MatMul(pool, &ws, PrecisionGGML, &w, x, n, y); err != nil {
			b.Fatal(err)
		}
	}
	sec := b.Elapsed().Seconds()
	if cpu := threadCPU() - c0; pool == nil && cpu > 0 {
		// single thread: the rate per second of CPU time, unaffected by
		// other processes sharing the cores
		b.ReportMetric(float64(len(w.Data))*float64(b.N)/cpu/1e9, "cpuGB/s")
	}
	if cpu := processCPU() - p0; pool != nil && cpu > 0 {
		// all threads: GFLOP per CPU-second times the thread count, what
		// the pool would reach with its cores to itself (waiting spins
		// count as CPU time, so this is a lower bound)
		b.ReportMetric(2*float64(sh.rows)*float64(sh.cols)*float64(n*b.N)/cpu/1e9*float64(pool.Threads()), "cpuGFLOP/s")
		b.ReportMetric(float64(len(w.Data))*float64(b.N)/cpu/1e9*float64(pool.Threads()), "cpuGB/s")
	}
	b.ReportMetric(float64(n*b.N)/sec, "tok/s")
	b.ReportMetric(2*float64(sh.rows)*float64(sh.cols)*float64(n*b.N)/sec/1e9, "GFLOP/s")
	if n == 1 && bw > 0 {
		b.ReportMetric(float64(len(w.Data))*float64(b.N)/sec/1e9/bw, "x_membw")
	}
}

// BenchmarkBandwidth reports MeasureBandwidth with the default pool and the
// read rate of a single thread, in GB/s.
func BenchmarkBandwidth(b *testing.B) {
	for _, threads := range []int{1, 0} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			pool := NewPool(threads)
			defer pool.Close()
			var gbs float64
			for b.Loop() {
				gbs = MeasureBandwidth(pool, 256<<20)
			}
			b.ReportMetric(gbs, "GB/s")
		})
	}
}

// BenchmarkKernelL2 measures the single-thread kernel speed with the
// weights in L2 (about 200 KiB), so memory bandwidth is not the limit: the
// GB/s here is what one core can decode and dot.
func BenchmarkKernelL2(b *testing.B) {
	for _, v := range benchImpls() {
		for _, t := range weightTypes {
			for _, n := range []int{1, 4, 8} {
				b.Run(fmt.Sprintf("%s/%s/n=%d", v.Name, t, n), func(b *testing.B) {
					restore, err := impl.Select("kernels", v.Select...)
					if err != nil {
						b.Fatal(err)
					}
					defer restore()
					rb, _ := t.RowBytes(2048)
					rows := max(16, (200<<10)/int(rb))
					benchOne(b, nil, t, benchShape{"l2", rows, 2048}, n, 0)
				})
			}
		}
	}
}
