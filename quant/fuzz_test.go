package quant

import (
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// FuzzDequantize feeds arbitrary bytes and lengths (and arbitrary type ids)
// to Dequantize, and the same bytes to VecDot and Quantize: none may panic;
// mismatched lengths must come back as errors.
func FuzzDequantize(f *testing.F) {
	for _, c := range handCases() {
		f.Add(uint32(c.typ), c.block, uint16(c.typ.BlockSize()))
	}
	f.Add(uint32(dtype.Q4_K), []byte{1, 2, 3}, uint16(256))
	f.Add(uint32(dtype.F16), []byte{0xff, 0x7f, 0x00, 0x7c}, uint16(2))
	f.Add(uint32(1000), []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, typ uint32, src []byte, n uint16) {
		ty := dtype.Type(typ % 40)
		dst := make([]float32, n)
		err := Dequantize(ty, src, dst)
		want, rerr := rowBytes("", ty, int(n))
		_, known := formatOf(ty)
		if ok := known && rerr == nil && want == len(src); ok != (err == nil) {
			t.Fatalf("Dequantize(%v, %d bytes, %d elements): err %v, lengths valid %v", ty, len(src), n, err, ok)
		}
		// treat src as both a weight row and an activation row
		_, _ = VecDot(ty, int(n), src, src)
		if known {
			a := make([]byte, len(src))
			_ = QuantizeActivations(ty, dst, a)
			_ = Quantize(ty, dst, a) // dst may hold NaN/Inf from arbitrary halves
		}
	})
}
