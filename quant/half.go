package quant

import (
	"encoding/binary"
	"math"
)

// F16ToF32 converts an IEEE 754 binary16 value (bit pattern h) to float32.
// The conversion is exact for every pattern: normals, subnormals, ±0, ±inf,
// and NaNs (the payload is kept in the top mantissa bits). Same values as
// ggml's GGML_FP16_TO_FP32 (table ggml_table_f32_f16 / F16C vcvtph2ps).
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0:
		return math.Float32frombits(sign)
	}
	// subnormal half: mant * 2^-24, normal as a float32
	e := uint32(113) // exponent of 2^-14 biased by 127
	for mant&0x400 == 0 {
		mant <<= 1
		e--
	}
	return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
}

// F32ToF16 converts f to IEEE 754 binary16, rounding to nearest with ties to
// even, producing subnormals below 2^-14 and ±inf above 65504 (from 65520
// up); NaN becomes the quiet NaN 0x7e00 with f's sign. For every finite or
// infinite input this is the result of GGML_FP32_TO_FP16 (ggml's software
// ggml_compute_fp32_to_fp16 used by ggml-base, and F16C vcvtps2ph with
// round-to-nearest); for NaN inputs it matches the software path.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // half exponent field
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e >= 1 { // normal half: keep 10 of 23 mantissa bits
		h := uint32(e)<<10 | mant>>13
		h += roundBit(mant, 13, h)
		return sign | uint16(h) // a carry into the exponent is correct, 0x7c00 = inf
	}
	if exp == 0 { // float32 zero or subnormal: far below half's smallest subnormal
		return sign
	}
	// subnormal half: value = m * 2^(exp-150), in units of 2^-24 that is m >> (126-exp)
	m := mant | 0x800000
	shift := uint(14 - e)
	if shift > 24 {
		return sign
	}
	h := m >> shift
	h += roundBit(m, shift, h)
	return sign | uint16(h)
}

// roundBit returns 1 if dropping the low shift bits of m (which leave the
// truncated value kept) must round up under round-to-nearest-even.
func roundBit(m uint32, shift uint, kept uint32) uint32 {
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && kept&1 == 1) {
		return 1
	}
	return 0
}

// BF16ToF32 converts a bfloat16 bit pattern to float32 (exact: the pattern
// is the top half of the float32), as ggml_compute_bf16_to_fp32.
func BF16ToF32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// F32ToBF16 converts f to bfloat16 as ggml_compute_fp32_to_bf16 does: round
// to nearest even on the dropped 16 bits (overflow goes to ±inf, subnormals
// are kept), and a NaN keeps its top bits with the quiet bit 0x40 forced on.
func F32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// f16 reads the little-endian half at b[0:2] as float32.
func f16(b []byte) float32 { return F16ToF32(binary.LittleEndian.Uint16(b)) }

// putF16 stores f rounded to half at b[0:2].
func putF16(b []byte, f float32) { binary.LittleEndian.PutUint16(b, F32ToF16(f)) }

// roundHalf returns f rounded through fp16, as GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(f)).
func roundHalf(f float32) float32 { return F16ToF32(F32ToF16(f)) }
