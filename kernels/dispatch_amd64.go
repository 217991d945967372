//go:build amd64 && !noasm

package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/impl"
)

// useAVX2 selects the AVX2 kernels (AVX2, FMA, F16C and BMI2, all present on
// x86-64-v3 CPUs). It is set once from the CPU features and changed only by
// tests through internal/impl.
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasAVX && cpu.X86.HasBMI2 && cpu.X86.HasF16C

func init() {
	impl.Register("kernels", "AVX2", &useAVX2)
	set := func(t dtype.Type, f tileFunc) {
		traitsTab[t].simd, traitsTab[t].simdOn, traitsTab[t].simdTag = f, &useAVX2, "AVX2"
	}
	set(dtype.Q4_K, rowsTileAVX2(q4kR8T1, kTileAVX2([]kAsm{q4kT1, q4kT2, q4kT3, q4kT4}, 144), 144))
	set(dtype.Q5_K, kTileAVX2([]kAsm{q5kT1, q5kT2, q5kT3, q5kT4}, 176))
	set(dtype.Q6_K, kTileAVX2([]kAsm{q6kT1, q6kT2, q6kT3, q6kT4}, 210))
	set(dtype.Q3_K, kTileAVX2([]kAsm{q3kT1, q3kT2, q3kT3, q3kT4}, 110))
	set(dtype.Q2_K, kTileAVX2([]kAsm{q2kT1, q2kT2, q2kT3, q2kT4}, 84))
	set(dtype.IQ4_XS, kTileAVX2([]kAsm{iq4xsT1, iq4xsT2, iq4xsT3}, 136))
	set(dtype.Q8_0, kTileAVX2([]kAsm{q80T1, q80T2, q80T3, q80T4}, 34))
	set(dtype.Q4_0, kTileAVX2([]kAsm{q40T1, q40T2, q40T3, q40T4}, 18))
	set(dtype.Q5_0, kTileAVX2([]kAsm{q50T1, q50T2, q50T3, q50T4}, 22))
	set(dtype.Q4_1, kTileAVX2([]kAsm{q41T1, q41T2, q41T3, q41T4}, 20))
	set(dtype.Q5_1, kTileAVX2([]kAsm{q51T1, q51T2, q51T3, q51T4}, 24))
	set(dtype.IQ4_NL, kTileAVX2([]kAsm{iq4nlT1, iq4nlT2}, 18))
	set(dtype.F16, floatTileAVX2([]fAsm{f16T1, f16T2, f16T3, f16T4}, 2, widenF16))
	set(dtype.BF16, floatTileAVX2([]fAsm{bf16T1, bf16T2, bf16T3, bf16T4}, 2, widenBF16))
	set(dtype.F32, floatTileAVX2([]fAsm{f32T1, f32T2, f32T3, f32T4}, 4, widenF32))
	setGemm := func(t dtype.Type, f gemmFunc) {
		g := traitsTab[t].gemm
		g.simd, g.simdOn = f, &useAVX2
	}
	setGemm(dtype.Q4_K, gemmAVX2([]gAsm{q4kGemmT1, q4kGemmT2, q4kGemmT3, q4kGemmT4}, q4kGroupBytes))
	setGemm(dtype.Q6_K, gemmAVX2([]gAsm{q6kGemmT1, q6kGemmT2, q6kGemmT3, q6kGemmT4}, q6kGroupBytes))
	setGemm(dtype.Q8_0, gemmAVX2([]gAsm{q80GemmT1, q80GemmT2, q80GemmT3, q80GemmT4}, q80GroupBytes))
	setGemm(dtype.Q5_0, gemmAVX2([]gAsm{q50GemmT1, q50GemmT2, q50GemmT3, q50GemmT4}, q50GroupBytes))
	setGemm(dtype.Q4_0, gemmAVX2([]gAsm{q40GemmT1, q40GemmT2, q40GemmT3, q40GemmT4}, q40GroupBytes))
}

// gAsm is the signature of the generated packed GEMM kernels.
type gAsm func(p *byte, nb uintptr, a *byte, astride uintptr, y *float32, ys uintptr)

// gemmAVX2 adapts the generated packed kernels for 1..len(fns) activation
// rows of one format (groupBytes packed bytes per block) to a gemmFunc,
// checking the bounds the assembly relies on.
func gemmAVX2(fns []gAsm, groupBytes int) gemmFunc {
	return func(p []byte, nb int, a []byte, al *actLayout, nt int, y []float32, ys int) {
		if nt <= 0 {
			return
		}
		if nb == 0 {
			for t := 0; t < nt; t++ {
				clear(y[t*ys : t*ys+8])
			}
			return
		}
		_ = p[nb*groupBytes-1]
		_ = a[nt*al.stride-1]
		_ = y[(nt-1)*ys+7]
		for t := 0; t < nt; t += len(fns) {
			k := min(len(fns), nt-t)
			fns[k-1](&p[0], uintptr(nb), &a[t*al.stride], uintptr(al.stride), &y[t*ys], uintptr(ys))
		}
	}
}

// kAsm is the signature of the generated tile kernels (see
// kernels_amd64_stubs.go).
type kAsm func(w *byte, wstride, nr uintptr, a *byte, astride, nb uintptr, y *float32, ys uintptr)

// kTileAVX2 adapts the generated kernels for 1..4 activation rows of one
// format (bpb bytes per block; fns[i] handles i+1 rows) to a tileFunc, checking the bounds the
// assembly relies on.
func kTileAVX2(fns []kAsm, bpb int) tileFunc {
	return func(w []byte, wstride, nr int, a []byte, _ []float32, al *actLayout, nt int, y []float32, ys int) {
		if nr <= 0 || nt <= 0 {
			return
		}
		if al.nb == 0 {
			for t := 0; t < nt; t++ {
				clear(y[t*ys : t*ys+nr])
			}
			return
		}
		_ = w[(nr-1)*wstride+al.nb*bpb-1]
		_ = a[nt*al.stride-1]
		_ = y[(nt-1)*ys+nr-1]
		for t := 0; t < nt; t += len(fns) {
			k := min(len(fns), nt-t)
			fns[k-1](&w[0], uintptr(wstride), uintptr(nr), &a[t*al.stride], uintptr(al.stride), uintptr(al.nb), &y[t*ys], uintptr(ys))
		}
	}
}

// rAsm is the signature of the generated eight-rows decode kernels.
type rAsm func(w *byte, wstride, nr uintptr, a *byte, nb uintptr, y *float32)

// rowsTileAVX2 uses the eight-rows kernel r for one activation row and the
// rows that fill groups of eight, and tile for everything else (both give
// the same results).
func rowsTileAVX2(r rAsm, tile tileFunc, bpb int) tileFunc {
	return func(w []byte, wstride, nr int, a []byte, x []float32, al *actLayout, nt int, y []float32, ys int) {
		n8 := nr &^ 7
		if nt != 1 || n8 == 0 || al.nb == 0 {
			tile(w, wstride, nr, a, x, al, nt, y, ys)
			return
		}
		_ = w[(n8-1)*wstride+al.nb*bpb-1]
		_ = a[al.stride-1]
		_ = y[n8-1]
		r(&w[0], uintptr(wstride), uintptr(n8), &a[0], uintptr(al.nb), &y[0])
		if n8 < nr {
			tile(w[n8*wstride:], wstride, nr-n8, a, x, al, 1, y[n8:], ys)
		}
	}
}

// fAsm is the signature of the generated float kernels.
type fAsm func(w *byte, wstride, nr uintptr, x *float32, xs, n16 uintptr, y *float32, ys uintptr)

// floatTileAVX2 adapts the generated float kernels (fns[i] handles i+1
// rows) to a tileFunc; columns beyond the last multiple of 16 are added by
// the Go twin's loop.
func floatTileAVX2(fns []fAsm, esize int, widen widenFunc) tileFunc {
	return func(w []byte, wstride, nr int, _ []byte, x []float32, al *actLayout, nt int, y []float32, ys int) {
		if nr <= 0 || nt <= 0 {
			return
		}
		cols, xs := al.cols, al.stride
		n16 := cols / 16
		c0 := 16 * n16
		_ = w[(nr-1)*wstride+cols*esize-1]
		_ = x[(nt-1)*xs+cols-1]
		_ = y[(nt-1)*ys+nr-1]
		if n16 == 0 {
			for t := 0; t < nt; t++ {
				clear(y[t*ys : t*ys+nr])
			}
		} else {
			for t := 0; t < nt; t += len(fns) {
				k := min(len(fns), nt-t)
				fns[k-1](&w[0], uintptr(wstride), uintptr(nr), &x[t*xs], uintptr(xs), uintptr(n16), &y[t*ys], uintptr(ys))
			}
		}
		if c0 == cols {
			return
		}
		var buf [16]float32
		tail := buf[:cols-c0]
		for r := 0; r < nr; r++ {
			widen(w[r*wstride+c0*esize:r*wstride+cols*esize], tail)
			for t := 0; t < nt; t++ {
				y[t*ys+r] += dotF32Go(tail, x[t*xs+c0:t*xs+cols])
			}
		}
	}
}

// quantQ8Blocks is quantQ8BlocksGo, in assembly when enabled.
func quantQ8Blocks(x []float32, dst []byte, withSum bool) {
	cols := len(x)
	nb := cols / 32
	if !useAVX2 || nb == 0 {
		quantQ8BlocksGo(x, dst, withSum)
		return
	}
	_ = dst[cols+8*nb-1]
	var s *float32
	var is *int32
	if withSum {
		s = (*float32)(unsafe.Pointer(&dst[cols+4*nb]))
	} else {
		is = (*int32)(unsafe.Pointer(&dst[cols+4*nb]))
	}
	quantQ8x32AVX2(&x[0], uintptr(nb), &dst[0], (*float32)(unsafe.Pointer(&dst[cols])), s, is)
}

// quantQ8K is quantQ8KGo, in assembly when enabled.
func quantQ8K(x []float32, dst []byte) {
	cols := len(x)
	nb := cols / 256
	if !useAVX2 || nb == 0 {
		quantQ8KGo(x, dst)
		return
	}
	_ = dst[cols+36*nb-1]
	quantQ8KAVX2(&x[0], uintptr(nb), &dst[0], (*float32)(unsafe.Pointer(&dst[cols])), (*int16)(unsafe.Pointer(&dst[cols+4*nb])))
}

// roundF16Row is roundF16RowGo, in assembly when enabled.
func roundF16Row(x, dst []float32) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		roundF16RowGo(x, dst)
		return
	}
	_ = dst[len(x)-1]
	roundF16AVX2(&x[0], &dst[0], uintptr(n))
	roundF16RowGo(x[n:], dst[n:len(x)])
}

// dot is dotGo, in assembly when enabled.
func dot(a, b []float32) float32 {
	n := len(a) &^ 7
	if !useAVX2 || n == 0 {
		return dotGo(a, b)
	}
	_ = b[len(a)-1]
	s := dotAVX2(&a[0], &b[0], uintptr(n))
	for i := n; i < len(a); i++ {
		s += a[i] * b[i]
	}
	return s
}

// axpy is axpyGo, in assembly when enabled.
func axpy(alpha float32, x, y []float32) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		axpyGo(alpha, x, y)
		return
	}
	_ = y[len(x)-1]
	axpyAVX2(alpha, &x[0], &y[0], uintptr(n))
	axpyGo(alpha, x[n:], y[n:len(x)])
}

// sumBytes is sumBytesGo (len(buf) a multiple of 256).
func sumBytes(buf []byte) uint64 {
	if !useAVX2 || len(buf) == 0 {
		return sumBytesGo(buf)
	}
	return sumBytesAVX2(&buf[0], uintptr(len(buf)))
}

// swiglu is swigluGo, in assembly when enabled.
func swiglu(out, gate, up []float32) {
	n := len(out) &^ 7
	if !useAVX2 || n == 0 {
		swigluGo(out, gate, up)
		return
	}
	_, _ = gate[len(out)-1], up[len(out)-1]
	swigluAVX2(&out[0], &gate[0], &up[0], uintptr(n))
	swigluGo(out[n:], gate[n:], up[n:])
}

// expSum is expSumGo, in assembly when enabled.
func expSum(x []float32, m float32) float64 {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return expSumGo(x, m)
	}
	return expSumAVX2(&x[0], uintptr(n), m) + expSumGo(x[n:], m)
}

// f16ToF32Row is f16ToF32RowGo, in assembly when enabled.
func f16ToF32Row(dst []float32, src []uint16) {
	n := len(src) &^ 7
	if !useAVX2 || n == 0 {
		f16ToF32RowGo(dst, src)
		return
	}
	_ = dst[len(src)-1]
	f16ToF32AVX2(&dst[0], &src[0], uintptr(n))
	f16ToF32RowGo(dst[n:], src[n:])
}

// f32ToF16Row is f32ToF16RowGo, in assembly when enabled.
func f32ToF16Row(dst []uint16, src []float32) {
	n := len(src) &^ 7
	if !useAVX2 || n == 0 {
		f32ToF16RowGo(dst, src)
		return
	}
	_ = dst[len(src)-1]
	f32ToF16AVX2(&dst[0], &src[0], uintptr(n))
	f32ToF16RowGo(dst[n:], src[n:])
}

// sumSquares is sumSquaresGo, in assembly when enabled (the float64 sum in
// eight lanes).
func sumSquares(x []float32) float64 {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		return sumSquaresGo(x)
	}
	return sumSquaresAVX2(&x[0], uintptr(n)) + sumSquaresGo(x[n:])
}

// scaleMul is scaleMulGo, in assembly when enabled (same roundings).
func scaleMul(y, x, w []float32, s float32) {
	n := len(x) &^ 7
	if !useAVX2 || n == 0 {
		scaleMulGo(y, x, w, s)
		return
	}
	_ = y[len(x)-1]
	if w == nil {
		scaleMulAVX2(&y[0], &x[0], nil, s, uintptr(n))
		scaleMulGo(y[n:], x[n:], nil, s)
		return
	}
	_ = w[len(x)-1]
	scaleMulAVX2(&y[0], &x[0], &w[0], s, uintptr(n))
	scaleMulGo(y[n:], x[n:], w[n:], s)
}
