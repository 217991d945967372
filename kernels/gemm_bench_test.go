package kernels

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/impl"
)

// BenchmarkGemmKernel measures one packed GEMM kernel on one thread with
// its packed row groups in L1/L2 (2048 columns, 4 row groups) and 64
// activation rows: the compute speed of the inner loop, in GFLOP per
// second of thread CPU time (unaffected by other processes).
func BenchmarkGemmKernel(b *testing.B) {
	for _, v := range benchImpls() {
		for _, t := range []dtype.Type{dtype.Q4_K, dtype.Q6_K, dtype.Q8_0, dtype.Q5_0, dtype.Q4_0, dtype.Q5_K, dtype.IQ4_XS, dtype.Q4_1} {
			g := traitsTab[t].gemm
			if g == nil {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", v.Name, t), func(b *testing.B) {
				restore, err := impl.Select("kernels", v.Select...)
				if err != nil {
					b.Fatal(err)
				}
				defer restore()
				const cols, groups, nt = 2048, 4, 64
				r := rand.New(rand.NewPCG(5, uint64(t)))
				w := randMatrix(b, r, t, 8*groups, cols, 0)
				nb := cols / t.BlockSize()
				gb := nb * g.groupBytes
				packed := make([]byte, groups*gb)
				for i := 0; i < groups; i++ {
					g.pack(w.Data[8*i*w.RowBytes:], w.RowBytes, 8, nb, packed[i*gb:(i+1)*gb])
				}
				al := newActLayout(actKindOf(&w, PrecisionGGML), cols)
				x := randFloats(r, nt*cols, 1)
				a := make([]byte, nt*al.stride)
				for i := 0; i < nt; i++ {
					quantizeAct(al.kind, x[i*cols:(i+1)*cols], a[i*al.stride:(i+1)*al.stride], nil)
				}
				y := make([]float32, nt*8*groups)
				kern := g.kernel()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				c0 := threadCPU()
				for b.Loop() {
					for i := 0; i < groups; i++ {
						kern(packed[i*gb:(i+1)*gb], nb, a, &al, nt, y[8*i:], 8*groups)
					}
				}
				if cpu := threadCPU() - c0; cpu > 0 {
					b.ReportMetric(2*float64(8*groups*cols*nt)*float64(b.N)/cpu/1e9, "cpuGFLOP/s")
				}
			})
		}
	}
}

// BenchmarkPack measures the packing of one row group (8 rows of 2048
// columns) into the r8 layout, in weight bytes per second of thread CPU
// time.
func BenchmarkPack(b *testing.B) {
	for _, t := range []dtype.Type{dtype.Q4_K, dtype.Q6_K, dtype.Q8_0, dtype.Q5_0, dtype.Q4_0, dtype.Q5_K, dtype.IQ4_XS, dtype.Q4_1} {
		g := traitsTab[t].gemm
		if g == nil {
			continue
		}
		b.Run(t.String(), func(b *testing.B) {
			const cols = 2048
			r := rand.New(rand.NewPCG(6, uint64(t)))
			w := randMatrix(b, r, t, 8, cols, 0)
			nb := cols / t.BlockSize()
			packed := make([]byte, nb*g.groupBytes)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			c0 := threadCPU()
			for b.Loop() {
				g.pack(w.Data, w.RowBytes, 8, nb, packed)
			}
			if cpu := threadCPU() - c0; cpu > 0 {
				b.ReportMetric(float64(len(w.Data))*float64(b.N)/cpu/1e9, "cpuGB/s")
			}
		})
	}
}

// BenchmarkDecodeStream measures decode (n = 1) over a stack of weight
// matrices of a real shape whose total (about 256 MiB) exceeds the caches,
// as a decode step streams a model's weights from memory: GB/s of weights
// and x_membw, the ratio to MeasureBandwidth with the same pool.
func BenchmarkDecodeStream(b *testing.B) {
	for _, threads := range []int{1, 2} {
		pool := NewPool(threads)
		bw := MeasureBandwidth(pool, 256<<20)
		for _, v := range benchImpls() {
			if v.Name == "go" {
				continue
			}
			for _, t := range []dtype.Type{dtype.Q4_K, dtype.Q6_K, dtype.Q8_0, dtype.Q5_0} {
				sh := benchShape{"qwen1.5b_up", 8960, 1536}
				if t == dtype.Q5_0 {
					sh = benchShape{"v2lite_exp_down", 2048, 1408}
				}
				b.Run(fmt.Sprintf("%s/t=%d/%s/%s", v.Name, threads, sh.name, t), func(b *testing.B) {
					restore, err := impl.Select("kernels", v.Select...)
					if err != nil {
						b.Fatal(err)
					}
					defer restore()
					m := benchMatrix(b, t, sh.rows, sh.cols)
					copies := max(2, (256<<20)/len(m.Data))
					ms := make([]Matrix, copies)
					for i := range ms {
						d := make([]byte, len(m.Data))
						copy(d, m.Data)
						ms[i] = m
						ms[i].Data = d
					}
					r := rand.New(rand.NewPCG(2, 3))
					x := randFloats(r, sh.cols, 1)
					y := make([]float32, sh.rows)
					var ws Workspace
					b.SetBytes(int64(len(m.Data)))
					i := 0
					for b.Loop() {
						if err := MatMul(pool, &ws, PrecisionGGML, &ms[i], x, 1, y); err != nil {
							b.Fatal(err)
						}
						i = (i + 1) % copies
					}
					gbs := float64(len(m.Data)) * float64(b.N) / b.Elapsed().Seconds() / 1e9
					b.ReportMetric(gbs, "GB/s")
					b.ReportMetric(gbs/bw, "x_membw")
				})
			}
		}
		pool.Close()
	}
}
