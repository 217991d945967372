package quant

import (
	"encoding/binary"
	"math"
)

// Plain float rows: F32 (4 bytes per element, little-endian IEEE binary32),
// F16 (2 bytes, IEEE binary16) and BF16 (2 bytes, the top half of a float32).
// Block size 1.

func dequantF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func quantF32(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func dequantF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = f16(src[2*i:])
	}
}

// quantF16 is ggml_fp32_to_fp16_row.
func quantF16(src []float32, dst []byte) {
	for i, v := range src {
		putF16(dst[2*i:], v)
	}
}

func dequantBF16(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

// quantBF16 is ggml_fp32_to_bf16_row (ggml-base build: the scalar
// ggml_compute_fp32_to_bf16 for every element).
func quantBF16(src []float32, dst []byte) {
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
}

// vecDotF32 is the scalar ggml_vec_dot_f32: float32 products summed in
// float64 (ggml_float), rounded to float32 at the end.
func vecDotF32(n int, w, a []byte) float32 {
	var sum float64
	for i := 0; i < n; i++ {
		x := math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
		y := math.Float32frombits(binary.LittleEndian.Uint32(a[4*i:]))
		sum += float64(float32(x * y))
	}
	return float32(sum)
}

// vecDotF16 is the scalar ggml_vec_dot_f16: each product of two halves is
// exact in float32; the products are summed in float64.
func vecDotF16(n int, w, a []byte) float32 {
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(float32(f16(w[2*i:]) * f16(a[2*i:])))
	}
	return float32(sum)
}

// vecDotBF16 is the scalar ggml_vec_dot_bf16 (exact float32 products summed
// in float64).
func vecDotBF16(n int, w, a []byte) float32 {
	var sum float64
	for i := 0; i < n; i++ {
		x := BF16ToF32(binary.LittleEndian.Uint16(w[2*i:]))
		y := BF16ToF32(binary.LittleEndian.Uint16(a[2*i:]))
		sum += float64(float32(x * y))
	}
	return float32(sum)
}
