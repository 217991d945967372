package kernels

import "math"

// RopeMode is how rotary position embedding pairs the channels of a head.
type RopeMode int

const (
	// RopeNormal rotates adjacent pairs (2i, 2i+1): ggml's GGML_ROPE_TYPE_NORM,
	// used by llama and deepseek2 GGUFs (and DeepSeek's MLA "interleaved" rope).
	RopeNormal RopeMode = iota
	// RopeNeoX rotates pairs (i, i + d/2): GGML_ROPE_TYPE_NEOX, used by qwen2.
	RopeNeoX
)

// RopeParams describes rotary position embedding with optional YaRN scaling
// (Su et al. 2021 "RoFormer"; Peng et al. 2023 "YaRN", as implemented by
// ggml_rope_ext and DeepSeek-V3 inference/model.py precompute_freqs_cis).
type RopeParams struct {
	Mode        RopeMode
	NDims       int       // channels rotated per head (the rest pass through)
	FreqBase    float32   // θ base, e.g. 10000
	FreqScale   float32   // 1/factor for linear/YaRN scaling, 1 for none
	NCtxOrig    int       // YaRN original context length
	ExtFactor   float32   // YaRN ramp mix: 1 with YaRN, 0 without
	AttnFactor  float32   // magnitude multiplier of cos/sin (before YaRN's own)
	BetaFast    float32   // YaRN β_fast (32)
	BetaSlow    float32   // YaRN β_slow (1)
	FreqFactors []float32 // per-pair divisors of θ (llama3 rope_freqs), len NDims/2, or nil
}

// yarnCorrDim is the dimension at which a wavelength spans nRot rotations over
// nCtxOrig positions (ggml_rope_yarn_corr_dim).
func yarnCorrDim(nDims, nCtxOrig int, nRot, base float32) float32 {
	return float32(nDims) * float32(math.Log(float64(float32(nCtxOrig)/(nRot*2*math.Pi)))) / (2 * float32(math.Log(float64(base))))
}

// RopeCache holds cos/sin per position for one RopeParams: [pos][NDims/2] pairs.
type RopeCache struct {
	p        RopeParams
	corr     [2]float32
	thetaMul float32
}

// NewRopeCache precomputes what the rotation needs for p.
func NewRopeCache(p RopeParams) *RopeCache {
	c := &RopeCache{p: p}
	c.thetaMul = float32(math.Pow(float64(p.FreqBase), -2.0/float64(p.NDims)))
	if p.ExtFactor != 0 {
		start := float32(math.Floor(float64(yarnCorrDim(p.NDims, p.NCtxOrig, p.BetaFast, p.FreqBase))))
		end := float32(math.Ceil(float64(yarnCorrDim(p.NDims, p.NCtxOrig, p.BetaSlow, p.FreqBase))))
		c.corr[0] = max(0, start)
		c.corr[1] = min(float32(p.NDims-1), end)
	}
	return c
}

// CosSin fills cs [NDims] with (cos θ_i, sin θ_i) pairs for position pos,
// following ggml_rope_cache_init and rope_yarn: θ is accumulated by repeated
// multiplication in float32, interpolated/extrapolated per YaRN's ramp, and
// cos/sin scaled by AttnFactor·(1 + 0.1·ln(1/FreqScale)) when YaRN is on.
func (c *RopeCache) CosSin(pos int, cs []float32) {
	p := &c.p
	theta := float32(pos)
	for i0 := 0; i0 < p.NDims; i0 += 2 {
		ff := float32(1)
		if p.FreqFactors != nil {
			ff = p.FreqFactors[i0/2]
		}
		extrap := theta / ff
		interp := p.FreqScale * extrap
		th := interp
		mscale := p.AttnFactor
		if p.ExtFactor != 0 {
			y := (float32(i0/2) - c.corr[0]) / max(0.001, c.corr[1]-c.corr[0])
			ramp := (1 - min(1, max(0, y))) * p.ExtFactor
			th = interp*(1-ramp) + extrap*ramp
			mscale *= 1 + 0.1*float32(math.Log(float64(1/p.FreqScale)))
		}
		cs[i0] = float32(math.Cos(float64(th))) * mscale
		cs[i0+1] = float32(math.Sin(float64(th))) * mscale
		theta *= c.thetaMul
	}
}

// Apply rotates one head x [head_dim] in place using cs from CosSin. Channels
// beyond NDims are left unchanged.
func (c *RopeCache) Apply(x, cs []float32) {
	n := c.p.NDims
	if c.p.Mode == RopeNeoX {
		h := n / 2
		for i := 0; i < h; i++ {
			cos, sin := cs[2*i], cs[2*i+1]
			x0, x1 := x[i], x[i+h]
			x[i] = x0*cos - x1*sin
			x[i+h] = x0*sin + x1*cos
		}
		return
	}
	for i := 0; i < n; i += 2 {
		cos, sin := cs[i], cs[i+1]
		x0, x1 := x[i], x[i+1]
		x[i] = x0*cos - x1*sin
		x[i+1] = x0*sin + x1*cos
	}
}
