package quant

import (
	"math"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// Bounds of llama.cpp's tests/test-quantize-fns.cpp, on its synthetic data
// 0.1 + 2*cos(i + offset).
const (
	maxQuantizationTotalError      = 0.002
	maxQuantizationTotalError2Bits = 0.0075
	maxQuantizationTotalError3Bits = 0.004
	maxQuantizationReferenceError  = 0.0001
	maxDotProductError             = 0.02
	maxDotProductErrorLowBit       = 0.04
)

// arrayRMSE is test-quantize-fns' array_rmse: sqrt(sum of squared
// differences) / n (sic: not the usual RMSE).
func arrayRMSE(a, b []float32) float64 {
	var sum float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		sum += d * d
	}
	return math.Sqrt(sum) / float64(len(a))
}

var testLengths = []int{256, 1024, 4096, 8192}

// boundAt scales a test-quantize-fns bound, calibrated for its n = 4096, to
// length n: both of its metrics (sqrt(sum d^2)/n and |dot error|/n) shrink
// like 1/sqrt(n) for the same per-element error.
func boundAt(bound float64, n int) float64 {
	if n >= 4096 {
		return bound
	}
	return bound * math.Sqrt(4096/float64(n))
}

// TestQuantizationError is test-quantize-fns' total_quantization_error:
// Dequantize(Quantize(x)) against x.
func TestQuantizationError(t *testing.T) {
	for _, typ := range weightTypes {
		bound := maxQuantizationTotalError
		switch typ {
		case dtype.Q2_K:
			bound = maxQuantizationTotalError2Bits
		case dtype.Q3_K:
			bound = maxQuantizationTotalError3Bits
		}
		for _, n := range testLengths {
			x := synth(0, n)
			y := mustDequant(t, typ, mustQuant(t, typ, x), n)
			if e := arrayRMSE(x, y); !(e < boundAt(bound, n)) {
				t.Errorf("%v n=%d: quantization error %g, bound %g", typ, n, e, boundAt(bound, n))
			} else if n == 4096 {
				t.Logf("%-6v quantization error %.6f (bound %g)", typ, e, bound)
			}
		}
	}
}

// TestReferenceError is test-quantize-fns' reference_quantization_error for
// the types whose activation quantizer differs from the reference one:
// Q8_0's x86 path against quantize_row_q8_0_ref.
func TestReferenceError(t *testing.T) {
	x := synth(0, 4096)
	ref := mustDequant(t, dtype.Q8_0, mustQuant(t, dtype.Q8_0, x), len(x))
	act := mustDequant(t, dtype.Q8_0, mustAct(t, dtype.Q8_0, x), len(x))
	if e := arrayRMSE(ref, act); !(e < maxQuantizationReferenceError) {
		t.Errorf("Q8_0 reference error %g", e)
	}
}

// TestDotProductError is test-quantize-fns' dot_product_error: VecDot of the
// quantized rows against the float64 dot of the original data, divided by n.
// It also checks VecDot against the float64 dot of the dequantized rows; the
// two may differ only by float32 rounding of the block sums (bound: 2e-6 of
// sum |w*a| plus the min terms, which VecDot subtracts separately) and, for
// Q4_1/Q5_1, by the fp16 rounding of Q8_1's s = d*sum(q), which ggml uses in
// place of the exact sum (added to the float64 reference).
func TestDotProductError(t *testing.T) {
	for _, typ := range weightTypes {
		bound := maxDotProductError
		if typ == dtype.Q2_K {
			bound = maxDotProductErrorLowBit
		}
		for _, n := range testLengths {
			x1, x2 := synth(0, n), synth(1, n)
			w, a := mustQuant(t, typ, x1), mustAct(t, typ, x2)
			got, err := VecDot(typ, n, w, a)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(float64(got)-dot64(x1, x2)) / float64(n); !(e < boundAt(bound, n)) {
				t.Errorf("%v n=%d: dot product error %g, bound %g", typ, n, e, boundAt(bound, n))
			}
			wd, ad := mustDequant(t, typ, w, n), mustDequant(t, VecDotType(typ), a, n)
			var mag float64
			for i := range wd {
				mag += math.Abs(float64(wd[i]) * float64(ad[i]))
			}
			mag += minTermMagnitude(t, typ, w, ad)
			want := dot64(wd, ad) + q8_1SumCorrection(typ, w, a)
			if d := math.Abs(float64(got) - want); d > 2e-6*mag {
				t.Errorf("%v n=%d: VecDot %v, dot of dequantized rows %v (diff %.3g, scale %.3g)", typ, n, got, want, d, mag)
			}
		}
	}
}

// minTermMagnitude returns sum |min_e * a_e| for the types whose VecDot
// subtracts a separate min term (Q4_1, Q5_1, Q2_K, Q4_K, Q5_K), else 0.
func minTermMagnitude(t *testing.T, typ dtype.Type, w []byte, a []float32) float64 {
	var mins []float32 // min of element e's block, one per element
	switch typ {
	case dtype.Q4_1, dtype.Q5_1:
		bb := typ.BlockBytes()
		for ib := 0; ib < len(w)/bb; ib++ {
			for j := 0; j < 32; j++ {
				mins = append(mins, f16(w[ib*bb+2:]))
			}
		}
	case dtype.Q2_K:
		for ib := 0; ib < len(w)/q2_KBytes; ib++ {
			b := w[ib*q2_KBytes:]
			for e := 0; e < 256; e++ {
				mins = append(mins, f16(b[82:])*float32(b[e/16]>>4))
			}
		}
	case dtype.Q4_K, dtype.Q5_K:
		bb := typ.BlockBytes()
		for ib := 0; ib < len(w)/bb; ib++ {
			b := w[ib*bb:]
			for e := 0; e < 256; e++ {
				_, m := getScaleMinK4(e/32, b[4:16])
				mins = append(mins, f16(b[2:])*float32(m))
			}
		}
	default:
		return 0
	}
	var s float64
	for i, m := range mins {
		s += math.Abs(float64(m) * float64(a[i]))
	}
	return s
}

// q8_1SumCorrection returns sum over blocks of m_x * (s_y - d_y*sum(q_y)):
// what using Q8_1's fp16 s instead of the exact sum of its quants adds to a
// Q4_1/Q5_1 dot product (0 for other types).
func q8_1SumCorrection(typ dtype.Type, w, a []byte) float64 {
	if typ != dtype.Q4_1 && typ != dtype.Q5_1 {
		return 0
	}
	var c float64
	for ib := 0; ib < len(a)/q8_1Bytes; ib++ {
		y := a[ib*q8_1Bytes:]
		var sum float64
		for j := 0; j < 32; j++ {
			sum += float64(int8(y[4+j]))
		}
		m := float64(f16(w[ib*typ.BlockBytes()+2:]))
		c += m * (float64(f16(y[2:])) - float64(f16(y))*sum)
	}
	return c
}

// TestErrors: unsupported types and wrong lengths return errors, never panic.
func TestErrors(t *testing.T) {
	if err := Dequantize(dtype.IQ2_XXS, make([]byte, 66), make([]float32, 256)); err == nil ||
		err.Error() != "quant: type IQ2_XXS not supported" {
		t.Errorf("IQ2_XXS: %v", err)
	}
	for _, typ := range []dtype.Type{dtype.IQ2_XXS, dtype.IQ1_S, dtype.TQ1_0, dtype.Type(99), dtype.Q8_1, dtype.Q8_K} {
		if Supported(typ) {
			t.Errorf("Supported(%v) = true", typ)
		}
		if _, err := VecDot(typ, 256, nil, nil); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("VecDot(%v): %v", typ, err)
		}
	}
	for _, typ := range weightTypes {
		if !Supported(typ) {
			t.Errorf("Supported(%v) = false", typ)
		}
		bs, bb := typ.BlockSize(), typ.BlockBytes()
		vb := VecDotType(typ).BlockBytes() * 256 / VecDotType(typ).BlockSize()
		wb := bb * 256 / bs
		bad := []error{
			Dequantize(typ, make([]byte, wb-1), make([]float32, 256)),
			Dequantize(typ, make([]byte, wb+bb), make([]float32, 256)),
			Quantize(typ, make([]float32, 256), make([]byte, wb+1)),
			QuantizeActivations(typ, make([]float32, 256), make([]byte, vb-1)),
			func() error { _, err := VecDot(typ, 256, make([]byte, wb), make([]byte, vb+1)); return err }(),
			func() error { _, err := VecDot(typ, 256, make([]byte, wb-1), make([]byte, vb)); return err }(),
			func() error { _, err := VecDot(typ, -bs, nil, nil); return err }(),
		}
		if bs > 1 {
			bad = append(bad, Quantize(typ, make([]float32, bs+1), make([]byte, 2*bb)),
				Dequantize(typ, make([]byte, 2*bb), make([]float32, bs+1)))
		}
		for i, err := range bad {
			if err == nil || !strings.HasPrefix(err.Error(), "quant: ") {
				t.Errorf("%v case %d: error %v", typ, i, err)
			}
		}
	}
	want := map[dtype.Type]dtype.Type{
		dtype.F32: dtype.F32, dtype.F16: dtype.F16, dtype.BF16: dtype.BF16, dtype.Q4_0: dtype.Q8_0, dtype.Q5_0: dtype.Q8_0,
		dtype.Q8_0: dtype.Q8_0, dtype.IQ4_NL: dtype.Q8_0, dtype.Q4_1: dtype.Q8_1, dtype.Q5_1: dtype.Q8_1, dtype.Q2_K: dtype.Q8_K,
		dtype.Q3_K: dtype.Q8_K, dtype.Q4_K: dtype.Q8_K, dtype.Q5_K: dtype.Q8_K, dtype.Q6_K: dtype.Q8_K, dtype.IQ4_XS: dtype.Q8_K,
	}
	for w, a := range want {
		if got := VecDotType(w); got != a {
			t.Errorf("VecDotType(%v) = %v, want %v", w, got, a)
		}
	}
}

// TestFloatVecDot: F32/F16/BF16 VecDot is the float64 sum of the (exact or
// float32-rounded) products.
func TestFloatVecDot(t *testing.T) {
	x1, x2 := synth(0, 1000), synth(1, 1000)
	for _, typ := range []dtype.Type{dtype.F32, dtype.F16, dtype.BF16} {
		w, a := mustQuant(t, typ, x1), mustAct(t, typ, x2)
		wd, ad := mustDequant(t, typ, w, 1000), mustDequant(t, typ, a, 1000)
		var want float64
		for i := range wd {
			want += float64(wd[i] * ad[i])
		}
		got, err := VecDot(typ, 1000, w, a)
		if err != nil {
			t.Fatal(err)
		}
		if got != float32(want) {
			t.Errorf("%v: VecDot %v, want %v", typ, got, float32(want))
		}
	}
}
