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
	sum := sumSquares(x)
	mean := float32(sum / float64(len(x)))
	scale := float32(1.0 / math.Sqrt(float64(mean+eps)))
	scaleMul(y, x, w, scale)
}

// sumSquaresGo is Σ float64(x[i]·x[i]) (each square rounded to float32).
func sumSquaresGo(x []float32) float64 {
	var sum float64
	for _, v := range x {
		sum += float64(v * v)
	}
	return sum
}

// scaleMulGo writes y[i] = (x[i]·s)·w[i], or x[i]·s when w is nil.
func scaleMulGo(y, x, w []float32, s float32) {
	y = y[:len(x)]
	if w == nil {
		for i, v := range x {
			y[i] = v * s
		}
		return
	}
	w = w[:len(x)]
	for i, v := range x {
		y[i] = (v * s) * w[i]
	}
}

// Softmax replaces x [n] by exp(x[i]-max)/Σ exp(x[j]-max) in place; the sum is
// accumulated in float64 (ggml_compute_forward_soft_max_f32). The
// exponential is the fast float32 one (relative error < 2⁻²¹, see expf).
// Entries equal to -Inf get probability 0; an all -Inf row becomes all
// zeros.
func Softmax(x []float32) {
	maxv := float32(math.Inf(-1))
	for _, v := range x {
		if v > maxv {
			maxv = v
		}
	}
	if math.IsInf(float64(maxv), -1) {
		clear(x)
		return
	}
	sum := expSum(x, maxv)
	Scale(x, float32(1/sum))
}

// SiLU is x·σ(x) = x / (1 + e^-x) (ggml_silu_f32), with the fast float32
// exponential.
func SiLU(x float32) float32 { return siluGo(x) }

// Sigmoid is 1 / (1 + e^-x), with the fast float32 exponential.
func Sigmoid(x float32) float32 { return 1 / (1 + expf(-x)) }

// SwiGLU writes out[i] = SiLU(gate[i]) · up[i] for vectors of equal length
// (Shazeer 2020, "GLU Variants Improve Transformer"; ggml_vec_swiglu_f32),
// with the fast exponential: relative error below 2⁻²⁰, except that for
// gate < −88.4 (where SiLU is below 4e-37 in magnitude) it returns
// gate/2.4e38·up instead of the exact subnormal. out may alias gate or up.
func SwiGLU(out, gate, up []float32) { swiglu(out, gate, up) }

// Add writes y[i] += x[i].
func Add(y, x []float32) {
	for i := range y {
		y[i] += x[i]
	}
}

// Dot returns Σ a[i]·b[i] over float32 vectors of equal length (b at least
// as long as a), accumulated in float32 partial sums (32 fused lanes with
// AVX2; the Go twin dotGo uses 4), so the result may differ from a
// sequential sum by the usual float32 reassociation error.
func Dot(a, b []float32) float32 { return dot(a, b) }

// dotGo is Dot's portable twin: four interleaved float32 partial sums.
func dotGo(a, b []float32) float32 {
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

// Axpy writes y[i] += alpha·x[i] for i < len(x) (y at least as long; with
// AVX2 each update is one fused multiply-add).
func Axpy(alpha float32, x, y []float32) { axpy(alpha, x, y) }

// axpyGo is Axpy's portable twin.
func axpyGo(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale writes x[i] *= s.
func Scale(x []float32, s float32) { scaleMul(x, x, nil, s) }

// RoundF16 rounds every value of x to the nearest IEEE half-precision value
// (round to nearest even), as storing it in an F16 tensor and reading it back
// would.
func RoundF16(x []float32) {
	roundF16Row(x, x)
}
