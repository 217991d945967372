package quant

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
)

// halfValue computes the value of a binary16 pattern from the IEEE formula
// in float64, independently of F16ToF32.
func halfValue(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	switch {
	case e == 0x1f && m == 0:
		return math.Inf(int(s))
	case e == 0x1f:
		return math.NaN()
	case e == 0:
		return s * math.Ldexp(m, -24)
	}
	return s * math.Ldexp(1+m/1024, e-15)
}

func TestF16ToF32AllPatterns(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := F16ToF32(h)
		want := halfValue(h)
		if math.IsNaN(want) {
			if !math.IsNaN(float64(got)) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			if F32ToF16(got) != h&0x8000|0x7e00 {
				t.Fatalf("%#04x: NaN converts back to %#04x", h, F32ToF16(got))
			}
			continue
		}
		if float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
		if back := F32ToF16(got); back != h {
			t.Fatalf("%#04x: round trip gives %#04x", h, back)
		}
	}
}

// nearestHalf is a brute-force reference for F32ToF16 on finite inputs: the
// half nearest to v by binary search over all non-negative finite halves in
// float64 (vals, with 65536 appended at the inf pattern 0x7c00, which is where
// IEEE rounding overflows), ties to the even pattern.
func nearestHalf(v float32, vals []float64) uint16 {
	a := math.Abs(float64(v))
	var sign uint16
	if math.Signbit(float64(v)) {
		sign = 0x8000
	}
	if a >= 65536 {
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(vals, a) // vals[i] >= a
	if i < len(vals) && vals[i] == a {
		return sign | uint16(i)
	}
	lo, hi := i-1, i
	dlo, dhi := a-vals[lo], vals[hi]-a
	switch {
	case dlo < dhi:
		return sign | uint16(lo)
	case dhi < dlo:
		return sign | uint16(hi)
	case lo%2 == 0:
		return sign | uint16(lo)
	}
	return sign | uint16(hi)
}

func TestF32ToF16AgainstBruteForce(t *testing.T) {
	vals := make([]float64, 0x7c01) // patterns 0..0x7bff are increasing
	for i := range vals {
		vals[i] = halfValue(uint16(i))
	}
	vals[0x7c00] = 65536
	check := func(v float32) {
		if got, want := F32ToF16(v), nearestHalf(v, vals); got != want {
			t.Fatalf("F32ToF16(%g = %#08x) = %#04x, want %#04x", v, math.Float32bits(v), got, want)
		}
	}
	// every midpoint between consecutive halves (ties) and its float32 neighbours
	for i := 0; i+1 < len(vals); i++ { // includes the midpoint 65520 between 65504 and "65536"
		mid := float32((vals[i] + vals[i+1]) / 2) // exact: 12 significant bits
		for _, v := range []float32{mid, math.Nextafter32(mid, 0), math.Nextafter32(mid, 1e9)} {
			check(v)
			check(-v)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1_000_000; i++ {
		v := math.Float32frombits(rng.Uint32())
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			continue
		}
		check(v)
	}
}

func TestF32ToF16Special(t *testing.T) {
	cases := []struct {
		f    float32
		want uint16
	}{
		{0, 0}, {float32(math.Copysign(0, -1)), 0x8000}, {1, 0x3c00}, {-2, 0xc000},
		{65504, 0x7bff}, {65519.996, 0x7bff}, {65520, 0x7c00}, {1e10, 0x7c00}, {-1e10, 0xfc00},
		{float32(math.Inf(1)), 0x7c00}, {float32(math.Inf(-1)), 0xfc00},
		{0x1p-24, 0x0001}, {0x1p-25, 0x0000}, {math.Nextafter32(0x1p-25, 1), 0x0001}, // smallest subnormal, tie to even 0
		{0x3p-25, 0x0002},                          // 1.5 ulp ties to even 2
		{0x1p-14, 0x0400},                          // smallest normal
		{0x1.ffcp-15, 0x0400},                      // 1023.75 subnormal ulps round up into the normals
		{1 + 0x1p-11, 0x3c00},                      // tie between 1 and 1+2^-10 goes to even 1
		{1 + 0x3p-11, 0x3c02},                      // tie between 1+2^-10 and 1+2^-9 goes to even
		{float32(math.NaN()), 0x7e00},              // quiet NaN
		{math.Float32frombits(0xff800001), 0xfe00}, // signalling NaN with sign
	}
	for _, c := range cases {
		if got := F32ToF16(c.f); got != c.want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", c.f, got, c.want)
		}
	}
}

// TestF32ToF16GGML compares with values ggml converted (software
// ggml_compute_fp32_to_fp16 and F16C _cvtss_sh; see testdata/README.md).
func TestF32ToF16GGML(t *testing.T) {
	in := f32s(readFile(t, filepath.Join("testdata", "ggml", "f16_edge_in.f32")))
	for _, name := range []string{"f16_edge_soft.bin", "f16_edge_f16c.bin"} {
		want := readFile(t, filepath.Join("testdata", "ggml", name))
		if len(want) != 2*len(in) {
			t.Fatalf("%s: %d bytes for %d inputs", name, len(want), len(in))
		}
		for i, v := range in {
			if got, w := F32ToF16(v), binary.LittleEndian.Uint16(want[2*i:]); got != w {
				t.Errorf("%s: F32ToF16(%g) = %#04x, ggml %#04x", name, v, got, w)
			}
		}
	}
}

func TestBF16(t *testing.T) {
	// every bf16 pattern round-trips exactly (NaNs stay NaN with the quiet bit)
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) bits %#08x", h, math.Float32bits(f))
		}
		back := F32ToBF16(f)
		if math.IsNaN(float64(f)) {
			if back != h|0x40 {
				t.Fatalf("NaN %#04x -> %#04x", h, back)
			}
		} else if back != h {
			t.Fatalf("round trip %#04x -> %#04x", h, back)
		}
	}
	// rounding against a float64 reference: nearest bf16, ties to even
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 1_000_000; i++ {
		u := rng.Uint32()
		f := math.Float32frombits(u)
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		lo := u &^ 0xffff
		hi := lo + 0x10000
		dl, dh := float64(u-lo), float64(hi-u) // distances in units of the float32 ulp
		want := lo >> 16
		if dh < dl || (dh == dl && (lo>>16)&1 == 1) {
			want = hi >> 16
		}
		if got := F32ToBF16(f); uint32(got) != want&0xffff {
			t.Fatalf("F32ToBF16(%#08x) = %#04x, want %#04x", u, got, want)
		}
	}
	cases := []struct {
		u    uint32
		want uint16
	}{
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd rounds up
		{0x7f7fffff, 0x7f80}, // max float rounds to inf
		{0x00000001, 0x0000}, // subnormal rounds to zero
		{0x00008000, 0x0000}, // subnormal tie to even zero
		{0x00018000, 0x0002}, // subnormal tie, odd rounds up (kept, not flushed)
		{0x7f800001, 0x7fc0}, // signalling NaN gets the quiet bit
		{0xffc00000, 0xffc0},
	}
	for _, c := range cases {
		if got := F32ToBF16(math.Float32frombits(c.u)); got != c.want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", c.u, got, c.want)
		}
	}
}
