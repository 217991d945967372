package kernels

import (
	"github.com/dseek-ai/dseek/dtype"
)

// tileFunc computes one tile of a matrix product: for every weight row
// r < nr (row r at w[r·wstride:]) and activation row t < nt
// (nt <= maxTileTokens),
//
//	y[t·ys + r] = Σ_c w[r, c] · act[t, c]
//
// where act is the converted activation row t: a[t·al.stride:] in the
// internal quantized layout (see actLayout) or x[t·al.stride:] for float
// kinds. Implementations neither allocate nor keep the slices.
type tileFunc func(w []byte, wstride, nr int, a []byte, x []float32, al *actLayout, nt int, y []float32, ys int)

// maxTileTokens is the largest nt a tileFunc is called with.
const maxTileTokens = 8

// traits is one row of the per-format table (ggml's type_traits_cpu):
// the portable tile kernel and, where the CPU has one, the SIMD kernel with
// its toggle.
type traits struct {
	goTile  tileFunc
	simd    tileFunc    // nil if no SIMD kernel exists for this format
	simdOn  *bool       // toggle of simd (see internal/impl)
	simdTag string      // name of the SIMD implementation
	gemm    *gemmTraits // packed prefill path, nil if none
}

// traitsTab is filled at init (the SIMD entries by the architecture file's
// init) and read-only afterwards.
var traitsTab = func() (t [64]traits) {
	t[dtype.F32] = traits{goTile: floatTileGo(widenF32, 4)}
	t[dtype.F16] = traits{goTile: floatTileGo(widenF16, 2)}
	t[dtype.BF16] = traits{goTile: floatTileGo(widenBF16, 2)}
	t[dtype.Q8_0] = traits{goTile: lTileGo(unpackQ8_0, 34), gemm: &gemmTraits{groupBytes: q80GroupBytes, pack: packQ8_0, goKernel: legacyGemmGo(true, 0)}}
	t[dtype.Q4_0] = traits{goTile: lTileGo(unpackQ4_0, 18), gemm: &gemmTraits{groupBytes: q40GroupBytes, pack: packQ4_0, goKernel: legacyGemmGo(false, 8)}}
	t[dtype.Q4_1] = traits{goTile: lTileGo(unpackQ4_1, 20)}
	t[dtype.Q5_0] = traits{goTile: lTileGo(unpackQ5_0, 22), gemm: &gemmTraits{groupBytes: q50GroupBytes, pack: packQ5_0, goKernel: legacyGemmGo(false, 16)}}
	t[dtype.Q5_1] = traits{goTile: lTileGo(unpackQ5_1, 24)}
	t[dtype.IQ4_NL] = traits{goTile: lTileGo(unpackIQ4NL, 18)}
	t[dtype.Q2_K] = traits{goTile: kTileGo(unpackQ2K, 84, false)}
	t[dtype.Q3_K] = traits{goTile: kTileGo(unpackQ3K, 110, true)}
	t[dtype.Q4_K] = traits{goTile: kTileGo(unpackQ4K, 144, true), gemm: &gemmTraits{groupBytes: q4kGroupBytes, pack: packQ4K, goKernel: q4kGemmGo}}
	t[dtype.Q5_K] = traits{goTile: kTileGo(unpackQ5K, 176, false)}
	t[dtype.Q6_K] = traits{goTile: kTileGo(unpackQ6K, 210, true), gemm: &gemmTraits{groupBytes: q6kGroupBytes, pack: packQ6K, goKernel: q6kGemmGo}}
	t[dtype.IQ4_XS] = traits{goTile: kTileGo(unpackIQ4XS, 136, false)}
	return t
}()

// tileFor returns the kernel MatMul uses for weights of type t: the SIMD
// one when present and enabled, else the portable one; nil if t has none.
func tileFor(t dtype.Type) tileFunc {
	if int(t) < 0 || int(t) >= len(traitsTab) {
		return nil
	}
	tr := &traitsTab[t]
	if tr.simd != nil && *tr.simdOn {
		return tr.simd
	}
	return tr.goTile
}
