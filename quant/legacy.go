package quant

import (
	"encoding/binary"
	"math"
)

// Legacy 4/5-bit formats, blocks of 32 elements. Element j of a block uses the
// low nibble of qs[j] for j < 16 and the high nibble of qs[j-16] for j >= 16;
// the 5-bit formats take bit 4 of element j from bit j of the little-endian
// uint32 qh.
//
// block_q4_0, 18 bytes:
//
//	[0:2]   d      fp16;            x = d * (q - 8), q in 0..15
//	[2:18]  qs[16] nibbles
//
// block_q4_1, 20 bytes:
//
//	[0:2]   d      fp16
//	[2:4]   m      fp16 (min);      x = d * q + m, q in 0..15
//	[4:20]  qs[16] nibbles
//
// block_q5_0, 22 bytes:
//
//	[0:2]   d      fp16;            x = d * (q - 16), q in 0..31
//	[2:6]   qh     uint32, bit 4 of every quant
//	[6:22]  qs[16] nibbles
//
// block_q5_1, 24 bytes:
//
//	[0:2]   d      fp16
//	[2:4]   m      fp16;            x = d * q + m, q in 0..31
//	[4:8]   qh     uint32
//	[8:24]  qs[16] nibbles
const (
	q4_0Bytes = 18
	q4_1Bytes = 20
	q5_0Bytes = 22
	q5_1Bytes = 24
)

// legacyQuant returns the quant of element j (0..31) of a legacy block whose
// nibbles start at qs, adding bit 4 from qh when hasHigh.
func legacyQuant(qs []byte, qh uint32, hasHigh bool, j int) int32 {
	q := int32(qs[j%16] >> (4 * (j / 16)) & 0xf)
	if hasHigh {
		q |= int32(qh>>j&1) << 4
	}
	return q
}

func dequantQ4_0(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q4_0Bytes:]
		d := f16(b)
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(legacyQuant(b[2:], 0, false, j)-8) * d
		}
	}
}

func dequantQ4_1(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q4_1Bytes:]
		d, m := f16(b), f16(b[2:])
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(float32(legacyQuant(b[4:], 0, false, j))*d) + m
		}
	}
}

func dequantQ5_0(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q5_0Bytes:]
		d, qh := f16(b), binary.LittleEndian.Uint32(b[2:])
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(legacyQuant(b[6:], qh, true, j)-16) * d
		}
	}
}

func dequantQ5_1(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q5_1Bytes:]
		d, m, qh := f16(b), f16(b[2:]), binary.LittleEndian.Uint32(b[4:])
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(float32(legacyQuant(b[8:], qh, true, j))*d) + m
		}
	}
}

// signedMax returns the element of largest magnitude (the first one on ties)
// and 0 for an all-zero block, as the amax/max loops of ggml.
func signedMax(x []float32) float32 {
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); amax < a {
			amax, mx = a, v
		}
	}
	return mx
}

// minMax returns min and max of x starting from ±FLT_MAX, as quantize_row_q4_1_ref.
func minMax(x []float32) (lo, hi float32) {
	lo, hi = math.MaxFloat32, -math.MaxFloat32
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	return lo, hi
}

// truncInt is C's float -> integer conversion (truncation toward zero), as
// gcc emits it on x86 (cvttss2si); NaN and out-of-range values give MinInt32.
func truncInt(v float32) int32 {
	if v != v || v >= 2147483648 || v < -2147483648 {
		return math.MinInt32
	}
	return int32(v)
}

// packNibbles stores 32 quants (0..15 after masking) into qs[16] and returns
// their bit-4 mask for the 5-bit formats.
func packNibbles(q *[qk]uint8, qs []byte) uint32 {
	var qh uint32
	for j := 0; j < qk/2; j++ {
		qs[j] = q[j]&0xf | (q[j+16]&0xf)<<4
		qh |= uint32(q[j]>>4&1)<<j | uint32(q[j+16]>>4&1)<<(j+16)
	}
	return qh
}

// quantQ4_0 is quantize_row_q4_0_ref: d = max/-8 (max = signed value of
// largest magnitude), q = min(15, (int8)(x/d + 8.5)).
func quantQ4_0(src []float32, dst []byte) {
	var q [qk]uint8
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q4_0Bytes:]
		d := signedMax(x) / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			q[j] = uint8(min(15, int8(truncInt(float32(v*id)+8.5))))
		}
		packNibbles(&q, b[2:])
	}
}

// quantQ4_1 is quantize_row_q4_1_ref: d = (max-min)/15, m = min,
// q = min(15, (int8)((x-min)/d + 0.5)).
func quantQ4_1(src []float32, dst []byte) {
	var q [qk]uint8
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q4_1Bytes:]
		lo, hi := minMax(x)
		d := (hi - lo) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		for j, v := range x {
			q[j] = uint8(min(15, int8(truncInt(float32((v-lo)*id)+0.5))))
		}
		packNibbles(&q, b[4:])
	}
}

// quantQ5_0 is quantize_row_q5_0_ref: d = max/-16, q = min(31, (int8)(x/d + 16.5)).
func quantQ5_0(src []float32, dst []byte) {
	var q [qk]uint8
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q5_0Bytes:]
		d := signedMax(x) / -16
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			q[j] = uint8(min(31, int8(truncInt(float32(v*id)+16.5))))
		}
		binary.LittleEndian.PutUint32(b[2:], packNibbles(&q, b[6:]))
	}
}

// quantQ5_1 is quantize_row_q5_1_ref: d = (max-min)/31, m = min,
// q = (uint8)((x-min)/d + 0.5) (no clamp, as in ggml).
func quantQ5_1(src []float32, dst []byte) {
	var q [qk]uint8
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q5_1Bytes:]
		lo, hi := minMax(x)
		d := (hi - lo) / 31
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		putF16(b[2:], lo)
		for j, v := range x {
			q[j] = uint8(truncInt(float32((v-lo)*id) + 0.5))
		}
		binary.LittleEndian.PutUint32(b[4:], packNibbles(&q, b[8:]))
	}
}

// legacyDot returns the exact integer sum of w-quant * a-quant over one block.
func legacyDot(qs []byte, qh uint32, hasHigh bool, offset int32, aqs []byte) int32 {
	var sumi0, sumi1 int32
	for j := 0; j < qk/2; j++ {
		sumi0 += (legacyQuant(qs, qh, hasHigh, j) - offset) * int32(int8(aqs[j]))
		sumi1 += (legacyQuant(qs, qh, hasHigh, j+16) - offset) * int32(int8(aqs[j+16]))
	}
	return sumi0 + sumi1
}

// vecDotQ4_0 is ggml_vec_dot_q4_0_q8_0 (scalar): sumf += sumi*dx*dy.
func vecDotQ4_0(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*q4_0Bytes:], a[ib*q8_0Bytes:]
		sumi := legacyDot(x[2:], 0, false, 8, y[2:])
		sumf += float32(float32(sumi) * f16(x) * f16(y))
	}
	return sumf
}

// vecDotQ4_1 is ggml_vec_dot_q4_1_q8_1 (scalar):
// sumf += (dx*dy)*sumi + mx*sy.
func vecDotQ4_1(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*q4_1Bytes:], a[ib*q8_1Bytes:]
		sumi := legacyDot(x[4:], 0, false, 0, y[4:])
		sumf += float32(f16(x)*f16(y)*float32(sumi)) + float32(f16(x[2:])*f16(y[2:]))
	}
	return sumf
}

// vecDotQ5_0 is ggml_vec_dot_q5_0_q8_0 (scalar): sumf += (dx*dy)*sumi.
func vecDotQ5_0(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*q5_0Bytes:], a[ib*q8_0Bytes:]
		sumi := legacyDot(x[6:], binary.LittleEndian.Uint32(x[2:]), true, 16, y[2:])
		sumf += float32(f16(x) * f16(y) * float32(sumi))
	}
	return sumf
}

// vecDotQ5_1 is ggml_vec_dot_q5_1_q8_1 (scalar):
// sumf += (dx*dy)*sumi + mx*sy.
func vecDotQ5_1(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*q5_1Bytes:], a[ib*q8_1Bytes:]
		sumi := legacyDot(x[8:], binary.LittleEndian.Uint32(x[4:]), true, 0, y[4:])
		sumf += float32(f16(x)*f16(y)*float32(sumi)) + float32(f16(x[2:])*f16(y[2:]))
	}
	return sumf
}
