package kernels

import "github.com/dseek-ai/dseek/quant"

// f16Table maps every IEEE half-precision bit pattern to its float32 value,
// like ggml's ggml_table_f32_f16. It is filled once and never written after.
var f16Table = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = quant.F16ToF32(uint16(i))
	}
	return &t
}()

// F16ToF32 converts an IEEE half-precision value to float32 by table lookup.
func F16ToF32(h uint16) float32 { return f16Table[h] }

// F32ToF16 converts float32 to IEEE half precision, rounding to nearest even.
func F32ToF16(v float32) uint16 { return quant.F32ToF16(v) }

func f32ToF16(v float32) uint16 { return quant.F32ToF16(v) }

// F16ToF32Row widens the IEEE half-precision values src into dst[:len(src)]
// (F16C vcvtph2ps when available; exact for every bit pattern).
func F16ToF32Row(dst []float32, src []uint16) {
	f16ToF32Row(dst[:len(src)], src)
}

// f16ToF32RowGo is F16ToF32Row's portable twin (table lookup).
func f16ToF32RowGo(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = f16Table[h]
	}
}

// F32ToF16Row rounds src to IEEE half precision into dst[:len(src)], to
// nearest even with overflow to ±Inf (F16C vcvtps2ph when available); a
// NaN stays a NaN (its payload may differ from quant.F32ToF16's).
func F32ToF16Row(dst []uint16, src []float32) {
	f32ToF16Row(dst[:len(src)], src)
}

// f32ToF16RowGo is F32ToF16Row's portable twin.
func f32ToF16RowGo(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = quant.F32ToF16(v)
	}
}
