package quant

import (
	"encoding/binary"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"math"
	"os"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// weightTypes are the types Supported must accept.
var weightTypes = []dtype.Type{
	dtype.F32, dtype.F16, dtype.BF16, dtype.Q8_0, dtype.Q4_0, dtype.Q4_1, dtype.Q5_0, dtype.Q5_1,
	dtype.Q2_K, dtype.Q3_K, dtype.Q4_K, dtype.Q5_K, dtype.Q6_K, dtype.IQ4_NL, dtype.IQ4_XS,
}

// fixturesDir is the shared fixtures directory; a missing one fails the test.
func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

// readFile reads a file or fails the test.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// f32s decodes little-endian float32s.
func f32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// synth is test-quantize-fns' generate_data: 0.1 + 2*cosf(i + offset).
func synth(offset float32, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 0.1 + 2*float32(math.Cos(float64(float32(i)+offset)))
	}
	return x
}

// mustRow quantizes src to t or fails.
func mustQuant(t testing.TB, typ dtype.Type, src []float32) []byte {
	t.Helper()
	n, err := typ.RowBytes(int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, n)
	if err := Quantize(typ, src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustDequant(t testing.TB, typ dtype.Type, src []byte, n int) []float32 {
	t.Helper()
	dst := make([]float32, n)
	if err := Dequantize(typ, src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

func mustAct(t testing.TB, typ dtype.Type, src []float32) []byte {
	t.Helper()
	n, err := VecDotType(typ).RowBytes(int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, n)
	if err := QuantizeActivations(typ, src, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// dot64 is the float64 dot product of two float32 slices.
func dot64(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
