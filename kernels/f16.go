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
