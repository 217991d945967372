package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// TestDotAxpy compares Dot and Axpy (each implementation) with float64
// loops for every length 0..300 and misaligned starts. Bound: a float32 sum
// of n products differs from the exact one by at most n·2⁻²⁴·Σ|aᵢbᵢ|
// (plus one rounding of the result).
func TestDotAxpy(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		for n := 0; n <= 300; n++ {
			off := n % 3
			a := randFloats(r, n+off, 1)[off:]
			b := randFloats(r, n+off+1, 1)[off+1:]
			var exact, mag float64
			for i := range a {
				exact += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			got := Dot(a, b)
			if d := math.Abs(float64(got) - exact); d > float64(n+1)*0x1p-24*mag+1e-30 {
				t.Fatalf("Dot n=%d: %g, exact %g (|Δ| %g)", n, got, exact, d)
			}
			alpha := float32(r.NormFloat64())
			y, check := guarded(t, n, 11)
			y0 := randFloats(r, n, 1)
			copy(y, y0)
			bc := slices.Clone(b)
			Axpy(alpha, b, y)
			check()
			if !slices.Equal(b, bc) {
				t.Fatal("Axpy modified x")
			}
			for i := range y {
				want := float64(y0[i]) + float64(alpha)*float64(b[i])
				bound := 2 * 0x1p-24 * (math.Abs(float64(y0[i])) + math.Abs(float64(alpha)*float64(b[i])))
				if math.Abs(float64(y[i])-want) > bound {
					t.Fatalf("Axpy n=%d y[%d] = %g, want %g", n, i, y[i], want)
				}
			}
		}
	})
}

// TestRoundF16 checks RoundF16 (each implementation) against the reference
// conversion quant.F32ToF16/F16ToF32, including subnormal, overflowing and
// tie values.
func TestRoundF16(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 6))
		x := randFloats(r, 1003, 3)
		x = append(x, 65504, 65520, 70000, -1e-7, 6e-8, 3e-8, 1+0x1p-11, 1+3*0x1p-11, float32(math.Inf(1)), 0, float32(math.Copysign(0, -1)))
		want := make([]float32, len(x))
		for i, v := range x {
			want[i] = quant.F16ToF32(quant.F32ToF16(v))
		}
		got := slices.Clone(x)
		RoundF16(got)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("RoundF16(%g) = %g, want %g", x[i], got[i], want[i])
			}
		}
	})
}

// TestSumBytes checks the bandwidth probe's reader against its Go twin.
func TestSumBytes(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		buf := make([]byte, 256*37)
		for i := range buf {
			buf[i] = byte(r.Uint32())
		}
		if got, want := sumBytes(buf), sumBytesGo(buf); got != want {
			t.Fatalf("sumBytes %#x, Go twin %#x", got, want)
		}
	})
	if bw := MeasureBandwidth(nil, 1<<20); !(bw > 0) {
		t.Fatalf("MeasureBandwidth = %g", bw)
	}
}

// TestExpOps checks the fast exponential and the ops built on it (each
// implementation) against float64 math: e^x within a relative 2⁻²¹,
// SwiGLU within 2⁻²⁰ of its magnitude, Softmax within 2⁻²⁰ per
// probability, -Inf entries exactly 0, tails of every length.
func TestExpOps(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 8))
		for i := 0; i < 20000; i++ {
			x := float32(r.Float64()*175 - 87.3)
			got, want := float64(expf(x)), math.Exp(float64(x))
			if math.Abs(got-want) > 0x1p-21*want {
				t.Fatalf("expf(%g) = %g, want %g", x, got, want)
			}
		}
		if expf(-100) != 0 || expf(float32(math.Inf(-1))) != 0 || !math.IsNaN(float64(expf(float32(math.NaN())))) {
			t.Fatal("expf special values")
		}
		for n := 0; n < 70; n++ {
			g := randFloats(r, n, 4)
			u := randFloats(r, n, 1)
			if n > 3 {
				g[0], g[1], g[2] = -100, 100, -87.5
			}
			out, check := guarded(t, n, 9)
			SwiGLU(out, g, u)
			check()
			for i := range out {
				want := float64(g[i]) / (1 + math.Exp(-float64(g[i]))) * float64(u[i])
				if math.Abs(float64(out[i])-want) > 0x1p-20*math.Abs(want)+1e-30*math.Abs(float64(u[i])) { // below e^-88.4, silu is clamped to ~g/2.4e38
					t.Fatalf("SwiGLU n=%d [%d]: silu(%g)·%g = %g, want %g", n, i, g[i], u[i], out[i], want)
				}
			}
			x := randFloats(r, n, 3)
			if n > 2 {
				x[1] = float32(math.Inf(-1))
			}
			want := make([]float64, n)
			mx := float32(math.Inf(-1))
			for _, v := range x {
				mx = max(mx, v)
			}
			var sum float64
			for i, v := range x {
				want[i] = math.Exp(float64(v - mx)) // the difference in float32, as ggml
				sum += want[i]
			}
			Softmax(x)
			for i := range x {
				w := want[i] / sum
				if math.Abs(float64(x[i])-w) > 0x1p-20*w+1e-30 || (n > 2 && i == 1 && x[i] != 0) {
					t.Fatalf("Softmax n=%d [%d] = %g, want %g", n, i, x[i], w)
				}
			}
		}
	})
}

// TestF16ToF32Row checks the row conversion (each implementation) against
// quant.F16ToF32 for every half bit pattern, at misaligned offsets.
func TestF16ToF32Row(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		src := make([]uint16, 1<<16+3)
		for i := range src {
			src[i] = uint16(i * 40503)
		}
		for off := 0; off < 3; off++ {
			s := src[off : off+1<<16]
			dst, check := guarded(t, len(s), 5)
			F16ToF32Row(dst, s)
			check()
			for i, h := range s {
				want := quant.F16ToF32(h)
				if math.Float32bits(dst[i]) != math.Float32bits(want) && !(want != want && dst[i] != dst[i]) {
					t.Fatalf("F16ToF32Row(%#04x) = %g, want %g", h, dst[i], want)
				}
			}
		}
	})
}

// TestF32ToF16Row checks the row rounding (each implementation) against
// quant.F32ToF16 (ties, subnormals, overflow, infinities; NaN stays NaN).
func TestF32ToF16Row(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(10, 10))
		src := randFloats(r, 997, 30)
		src = append(src, 65504, 65519.99, 65520, 1e6, -1e-7, 6e-8, 2.98e-8, 1+0x1p-11, 1+3*0x1p-11, 0x1p-25,
			float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), float32(math.NaN()))
		for i := 0; i < 2000; i++ {
			src = append(src, math.Float32frombits(r.Uint32()))
		}
		dst, check := guardedU16(t, len(src))
		F32ToF16Row(dst, src)
		check()
		for i, v := range src {
			want := quant.F32ToF16(v)
			if v != v {
				if quant.F16ToF32(dst[i]) == quant.F16ToF32(dst[i]) {
					t.Fatalf("F32ToF16Row(NaN) = %#04x, not a NaN", dst[i])
				}
				continue
			}
			if dst[i] != want {
				t.Fatalf("F32ToF16Row(%g) = %#04x, want %#04x", v, dst[i], want)
			}
		}
	})
}

// guardedU16 is guarded for uint16 outputs.
func guardedU16(t *testing.T, n int) ([]uint16, func()) {
	const g, guard = 7, 0xdead
	buf := make([]uint16, n+2*g)
	for i := range buf {
		buf[i] = guard
	}
	return buf[g : g+n : g+n], func() {
		t.Helper()
		for i := 0; i < g; i++ {
			if buf[i] != guard || buf[g+n+i] != guard {
				t.Fatal("guard band overwritten")
			}
		}
	}
}

// TestRMSNorm checks RMSNorm (each implementation) against float64 math
// for every length 1..70, with and without a weight, in place and not.
func TestRMSNorm(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(12, 12))
		for n := 1; n <= 70; n++ {
			x := randFloats(r, n, 2)
			w := randFloats(r, n, 1)
			var ss float64
			for _, v := range x {
				ss += float64(v) * float64(v)
			}
			scale := 1 / math.Sqrt(ss/float64(n)+1e-6)
			for _, ww := range [][]float32{nil, w} {
				y, check := guarded(t, n, 5)
				RMSNorm(y, x, ww, 1e-6)
				check()
				for i := range y {
					want := float64(x[i]) * scale
					if ww != nil {
						want *= float64(ww[i])
					}
					if math.Abs(float64(y[i])-want) > 4*0x1p-24*math.Abs(want)+1e-30 {
						t.Fatalf("RMSNorm n=%d [%d] = %g, want %g", n, i, y[i], want)
					}
				}
			}
			xc := slices.Clone(x)
			RMSNorm(xc, xc, w, 1e-6) // in place
			y := make([]float32, n)
			RMSNorm(y, x, w, 1e-6)
			if !slices.Equal(xc, y) {
				t.Fatalf("RMSNorm n=%d in place differs", n)
			}
		}
	})
}

// TestQuantQ8KNaN is the regression test for a NaN in an activation row:
// the AVX2 Q8_K quantizer once let a NaN into its lane maxima and then
// searched for the largest |x| past the end of the block until it faulted.
// Every implementation must now skip NaNs when it finds the block's scale,
// agree with quantQ8KGo on the scale and on every non-NaN quant, and
// MatMul over such a row must return.
func TestQuantQ8KNaN(t *testing.T) {
	nan := float32(math.NaN())
	cases := map[string]func(x []float32){
		"max in lane 1, NaN late": func(x []float32) { x[57], x[254] = 0.9961946, nan },
		"NaN first":               func(x []float32) { x[0], x[9] = nan, -2 },
		"all NaN":                 func(x []float32) { fill(x, nan) },
		"NaN every 8th": func(x []float32) {
			x[100] = 3
			for i := 1; i < len(x); i += 8 {
				x[i] = nan
			}
		},
		"second block": func(x []float32) { x[256+255] = nan; x[300] = -5 },
	}
	rb, err := dtype.Q4_K.RowBytes(512)
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewMatrix(dtype.Q4_K, 3, 512, make([]byte, 3*rb))
	if err != nil {
		t.Fatal(err)
	}
	for name, mk := range cases {
		x := make([]float32, 512)
		for i := range x {
			x[i] = 0.1 * float32(i%7-3)
		}
		mk(x)
		al := newActLayout(actQ8_K, len(x))
		want := make([]byte, al.stride)
		quantQ8KGo(x, want)
		forEachImpl(t, func(t *testing.T) {
			got := make([]byte, al.stride)
			quantQ8K(x, got)
			for ib := 0; ib < 2; ib++ {
				o := 512 + 4*ib
				if !bytes.Equal(got[o:o+4], want[o:o+4]) {
					t.Fatalf("%s: block %d scale %x, Go %x", name, ib, got[o:o+4], want[o:o+4])
				}
			}
			for i, v := range x {
				if v == v && got[i] != want[i] {
					t.Fatalf("%s: quant %d = %d, Go %d", name, i, int8(got[i]), int8(want[i]))
				}
			}
			y := make([]float32, 3)
			if err := MatMul(nil, new(Workspace), PrecisionGGML, &w, x, 1, y); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		})
	}
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
