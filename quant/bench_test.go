package quant

import (
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// Reference speeds on a 4096-element row (the fast kernels live elsewhere).

func BenchmarkDequantize(b *testing.B) {
	x := synth(0, 4096)
	for _, typ := range weightTypes {
		q := mustQuant(b, typ, x)
		y := make([]float32, len(x))
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(len(q)))
			for b.Loop() {
				if err := Dequantize(typ, q, y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVecDot(b *testing.B) {
	x1, x2 := synth(0, 4096), synth(1, 4096)
	for _, typ := range weightTypes {
		w, a := mustQuant(b, typ, x1), mustAct(b, typ, x2)
		b.Run(typ.String(), func(b *testing.B) {
			b.SetBytes(int64(len(w)))
			for b.Loop() {
				if _, err := VecDot(typ, len(x1), w, a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkQuantize(b *testing.B) {
	x := synth(0, 4096)
	for _, typ := range []dtype.Type{dtype.Q8_0, dtype.Q4_0, dtype.Q4_K, dtype.Q6_K, dtype.IQ4_XS} {
		q := mustQuant(b, typ, x)
		b.Run(typ.String(), func(b *testing.B) {
			for b.Loop() {
				if err := Quantize(typ, x, q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
