package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/impl"
	"github.com/dseek-ai/dseek/quant"
)

// weightTypes is every weight format MatMul supports.
var weightTypes = []dtype.Type{
	dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_1, dtype.Q5_0, dtype.Q5_1,
	dtype.Q2_K, dtype.Q3_K, dtype.Q4_K, dtype.Q5_K, dtype.Q6_K, dtype.IQ4_NL, dtype.IQ4_XS,
}

// forEachImpl runs f once per implementation set of this package available
// on the CPU (portable Go alone, each SIMD path), as Go's
// cryptotest.TestAllImplementations.
func forEachImpl(t *testing.T, f func(t *testing.T)) {
	for _, v := range impl.Variants("kernels") {
		t.Run(v.Name, func(t *testing.T) {
			restore, err := impl.Select("kernels", v.Select...)
			if err != nil {
				t.Fatal(err)
			}
			defer restore()
			f(t)
		})
	}
}

// guardNaN is the bit pattern written around outputs: a NaN no kernel
// produces, so any overwrite is visible.
const guardNaN = 0x7fc0dead

// guarded returns a slice of n float32 surrounded by g guard values on each
// side, and a check function that fails t if a guard changed.
func guarded(t *testing.T, n, g int) ([]float32, func()) {
	buf := make([]float32, n+2*g)
	for i := range buf {
		buf[i] = math.Float32frombits(guardNaN)
	}
	s := buf[g : g+n : g+n]
	return s, func() {
		t.Helper()
		for i := 0; i < g; i++ {
			if math.Float32bits(buf[i]) != guardNaN || math.Float32bits(buf[g+n+i]) != guardNaN {
				t.Fatalf("guard band overwritten around output of %d values", n)
			}
		}
	}
}

// randFloats fills n values with a mix of scales, as activations and
// weights have: mostly normal, some large outliers, some zeros.
func randFloats(r *rand.Rand, n int, scale float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		switch r.IntN(32) {
		case 0:
			x[i] = 0
		case 1:
			x[i] = float32(r.NormFloat64()) * scale * 20
		default:
			x[i] = float32(r.NormFloat64()) * scale
		}
	}
	if n >= 64 && r.IntN(4) == 0 { // an all-zero block now and then
		clear(x[:32])
	}
	return x
}

// randMatrix returns a rows×cols matrix of type t quantized from random
// values by the reference quantizer, its data placed at byte offset off of
// a fresh buffer (to test misaligned rows).
func randMatrix(t testing.TB, r *rand.Rand, typ dtype.Type, rows, cols, off int) Matrix {
	rb, err := typ.RowBytes(int64(cols))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, off+rows*int(rb))
	data := buf[off:]
	for i := 0; i < rows; i++ {
		src := randFloats(r, cols, 0.5+r.Float32())
		if err := quant.Quantize(typ, src, data[i*int(rb):(i+1)*int(rb)]); err != nil {
			t.Fatal(err)
		}
	}
	m, err := NewMatrix(typ, rows, cols, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// minRange is the byte range of one block holding the quants of the formats
// with a per-block offset ("min"); zeroing it makes the block decode to its
// min term alone.
func minRange(typ dtype.Type) (lo, hi int, ok bool) {
	switch typ {
	case dtype.Q4_1:
		return 4, 20, true
	case dtype.Q5_1:
		return 4, 24, true
	case dtype.Q2_K:
		return 16, 80, true
	case dtype.Q4_K:
		return 16, 144, true
	case dtype.Q5_K:
		return 16, 176, true
	}
	return 0, 0, false
}

// refDot returns the reference product of weight row w (type typ, cols
// values) with activation row x under precision prec (quant.VecDot on
// quant.QuantizeActivations), and the error bound allowed for a fast
// kernel:
//
//	|fast − ref| <= 2·(k + 16)·2⁻²⁴·Σᵢ (|wᵢ| + 2|minᵢ|)·|aᵢ|
//
// with wᵢ the dequantized weights, minᵢ their per-block offset (zero for
// symmetric formats), aᵢ the dequantized activations and k the length of the
// longest float accumulation chain of either side (blocks for quantized
// formats, cols/4 for float ones). The integer block sums are exact in both;
// only the float rounding of the per-block terms and their summation order
// differ, each rounding contributing at most 2⁻²⁴ of that magnitude.
func refDot(t testing.TB, typ dtype.Type, prec Precision, w []byte, x []float32) (ref, bound float32) {
	cols := len(x)
	m := Matrix{Type: typ, Cols: cols}
	at := m.ActType(prec)
	var ab []byte
	var av []float32
	if at == dtype.F32 && typ != dtype.F32 {
		// float weights with float32 activations: the exact float32 dot
		wv := make([]float32, cols)
		if err := quant.Dequantize(typ, w, wv); err != nil {
			t.Fatal(err)
		}
		var s float64
		for i := range x {
			s += float64(wv[i] * x[i])
		}
		ref = float32(s)
		av = x
	} else {
		arb, _ := at.RowBytes(int64(cols))
		ab = make([]byte, arb)
		if err := quant.QuantizeActivations(typ, x, ab); err != nil {
			t.Fatal(err)
		}
		v, err := quant.VecDot(typ, cols, w, ab)
		if err != nil {
			t.Fatal(err)
		}
		ref = v
		av = make([]float32, cols)
		if err := quant.Dequantize(at, ab, av); err != nil {
			t.Fatal(err)
		}
	}
	wv := make([]float32, cols)
	if err := quant.Dequantize(typ, w, wv); err != nil {
		t.Fatal(err)
	}
	mins := make([]float32, cols)
	if lo, hi, ok := minRange(typ); ok {
		z := append([]byte(nil), w...)
		bb := typ.BlockBytes()
		for b := 0; b < len(z); b += bb {
			clear(z[b+lo : b+hi])
		}
		if err := quant.Dequantize(typ, z, mins); err != nil {
			t.Fatal(err)
		}
	}
	var mag float64
	for i := range wv {
		mag += (math.Abs(float64(wv[i])) + 2*math.Abs(float64(mins[i]))) * math.Abs(float64(av[i]))
	}
	k := cols / typ.BlockSize()
	if !typ.IsQuantized() {
		k = cols / 4
	}
	return ref, float32(2 * float64(k+16) * 0x1p-24 * mag)
}

func quantizeActivationsRef(typ dtype.Type, x []float32, dst []byte) error {
	return quant.QuantizeActivations(typ, x, dst)
}
