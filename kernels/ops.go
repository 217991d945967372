package kernels

import (
	"math"
)

// RMSNorm writes y[i] = x[i] / sqrt(mean(x²) + eps) · w[i] for one row
// x [n] (w [n] may be nil for no weight). The sum of squares is accumulated in
// float64 and the scale rounded to float32, as ggml_compute_forward_rms_norm_f32
// does. y may alias x. Zhang & Sennrich 2019, "Root Mean Square Layer
// Normalization".
func RMSNorm(y, x, w []float32, eps float32) {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	mean := float32(sum / float64(len(x)))
	scale := float32(1.0 / math.Sqrt(float64(mean+eps)))
	if w == nil {
		for i, v := range x {
			y[i] = v * scale
		}
		return
	}
	for i, v := range x {
		y[i] = (v * scale) * w[i]
	}
}

// Softmax replaces x [n] by exp(x[i]-max)/Σ exp(x[j]-max) in place; the sum is
// accumulated in float64 (ggml_compute_forward_soft_max_f32). Entries equal to
// -Inf get probability 0; an all -Inf row becomes all zeros.
func Softmax(x []float32) {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		if v > maxv {
			maxv = v
		}
	}
	if math.IsInf(float64(maxv), -1) {
		for i := range x {
			x[i] = 0
		}
		return
	}
	var sum float64
	for i, v := range x {
		e := float32(math.Exp(float64(v - maxv)))
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// SiLU is x·σ(x) = x / (1 + e^-x) (ggml_silu_f32).
func SiLU(x float32) float32 { return x / (1 + float32(math.Exp(float64(-x)))) }

// Sigmoid is 1 / (1 + e^-x).
func Sigmoid(x float32) float32 { return 1 / (1 + float32(math.Exp(float64(-x)))) }

// SwiGLU writes out[i] = SiLU(gate[i]) · up[i] for vectors of equal length
// (Shazeer 2020, "GLU Variants Improve Transformer"). out may alias gate or up.
func SwiGLU(out, gate, up []float32) {
	for i := range out {
		out[i] = SiLU(gate[i]) * up[i]
	}
}

// Add writes y[i] += x[i].
func Add(y, x []float32) {
	for i := range y {
		y[i] += x[i]
	}
}

// Dot returns Σ a[i]·b[i] over float32 vectors of equal length, accumulated
// in float32 pairs to keep rounding close to a SIMD reduction.
func Dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	n := len(a)
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// Axpy writes y[i] += alpha·x[i].
func Axpy(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale writes x[i] *= s.
func Scale(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

// RoundF16 rounds every value of x to the nearest IEEE half-precision value
// (round to nearest even), as storing it in an F16 tensor and reading it back
// would.
func RoundF16(x []float32) {
	for i, v := range x {
		x[i] = F16ToF32(f32ToF16(v))
	}
}
