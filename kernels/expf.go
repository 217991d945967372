package kernels

import "math"

// Fast float32 exponential for SiLU, SwiGLU, Sigmoid and Softmax (the
// Cephes expf scheme, as SIMD libraries and ggml's ggml_v_expf use in
// spirit): e^x = 2^n · p(r) with n = round(x·log2 e), r = x − n·ln 2 in two
// parts, p a degree-7 polynomial. Relative error below 2⁻²¹ (a few float32
// ulps) for x in [−87.33654, 88.37626]; e^x = 0 below −87.33654 (ln of the
// smallest normal float32), and x is clamped to 88.37626 above (e^x ≈ 2.4e38,
// never +Inf: SiLU and Softmax only need it to be huge); NaN stays NaN.

const (
	expHi    = 88.3762626647949
	expLo    = -87.33654022216797
	log2e    = 1.44269504088896341
	expC1    = 0.693359375
	expC2    = -2.12194440e-4
	expP0    = 1.9875691500e-4
	expP1    = 1.3981999507e-3
	expP2    = 8.3334519073e-3
	expP3    = 4.1665795894e-2
	expP4    = 1.6666665459e-1
	expP5    = 5.0000001201e-1
	expBelow = -87.33654
)

// expf is the scalar Go twin of the vector exponential (expAVX2 in the
// assembly): same steps, float32 rounding after every operation.
func expf(x float32) float32 {
	switch {
	case x != x:
		return x
	case x < expBelow:
		return 0
	}
	x = min(x, expHi)
	n := float32(math.RoundToEven(float64(x * log2e)))
	r := x - n*expC1
	r = r - n*expC2
	r2 := r * r
	p := float32(expP0)
	p = p*r + expP1
	p = p*r + expP2
	p = p*r + expP3
	p = p*r + expP4
	p = p*r + expP5
	p = p*r2 + r + 1
	// 2^n, n in [-126, 127]
	return p * math.Float32frombits(uint32(int32(n)+127)<<23)
}

// siluGo is SwiGLU's Go twin for one element: g / (1 + e^-g).
func siluGo(g float32) float32 { return g / (1 + expf(-g)) }

// swigluGo writes out[i] = silu(gate[i]) · up[i].
func swigluGo(out, gate, up []float32) {
	up = up[:len(out)]
	gate = gate[:len(out)]
	for i := range out {
		out[i] = siluGo(gate[i]) * up[i]
	}
}

// expSumGo replaces x[i] by e^(x[i]−m) and returns Σ of the new values in
// float64 (Softmax's middle pass).
func expSumGo(x []float32, m float32) float64 {
	var s float64
	for i, v := range x {
		e := expf(v - m)
		x[i] = e
		s += float64(e)
	}
	return s
}
