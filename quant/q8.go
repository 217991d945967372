package quant

import (
	"encoding/binary"
	"math"
)

// 8-bit formats. Q8_0 is both a weight type and the activation type of
// Q4_0/Q5_0/Q8_0/IQ4_NL; Q8_1 is the activation type of Q4_1/Q5_1; Q8_K the
// activation type of the K-quants and IQ4_XS.
//
// block_q8_0, 32 elements, 34 bytes (ggml-common.h):
//
//	[0:2]   d      fp16 scale
//	[2:34]  qs[32] int8 quants; x[j] = d * qs[j]
//
// block_q8_1, 32 elements, 36 bytes:
//
//	[0:2]   d      fp16 scale
//	[2:4]   s      fp16, d * sum(qs) (used by the Q4_1/Q5_1 dot products for the min term)
//	[4:36]  qs[32] int8 quants
//
// block_q8_K, 256 elements, 292 bytes:
//
//	[0:4]     d         float32 scale
//	[4:260]   qs[256]   int8 quants; x[j] = d * qs[j]
//	[260:292] bsums[16] int16, bsums[k] = sum(qs[16k:16k+16])
const (
	q8_0Bytes = 34
	q8_1Bytes = 36
	q8_KBytes = 292
	qk        = 32  // elements of a legacy block (QK4_0 = QK8_0 = ... = 32)
	qkK       = 256 // elements of a K-quant super-block (QK_K)
)

func dequantQ8_0(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q8_0Bytes:]
		d := f16(b)
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(int8(b[2+j])) * d
		}
	}
}

func dequantQ8_1(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*q8_1Bytes:]
		d := f16(b)
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = float32(int8(b[4+j])) * d
		}
	}
}

func dequantQ8_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q8_KBytes:]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b))
		for j := 0; j < qkK; j++ {
			dst[ib*qkK+j] = d * float32(int8(b[4+j]))
		}
	}
}

// absMax returns max |x[i]| (0 for an empty or all-zero slice).
func absMax(x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, abs32(v))
	}
	return amax
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundAway is C roundf: round half away from zero.
func roundAway(v float32) float32 { return float32(math.Round(float64(v))) }

// quantQ8_0Ref is quantize_row_q8_0_ref, what llama-quantize writes for Q8_0:
// d = amax/127, q = roundf(x * (1/d)).
func quantQ8_0Ref(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q8_0Bytes:]
		d := absMax(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		for j, v := range x {
			b[2+j] = byte(int8(roundAway(v * id)))
		}
	}
}

// quantQ8_1Ref is quantize_row_q8_1_ref: as Q8_0 plus s = fp16(sum(qs) * d).
func quantQ8_1Ref(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*q8_1Bytes:]
		d := absMax(x) / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		putF16(b, d)
		sum := 0
		for j, v := range x {
			q := int8(roundAway(v * id))
			b[4+j] = byte(q)
			sum += int(q)
		}
		putF16(b[2:], float32(sum)*d)
	}
}

// roundEvenSat8 is _mm256_round_ps(_MM_ROUND_NEAREST) followed by
// cvtps_epi32 and the saturating packs to int8 (NaN converts to the integer
// indefinite value and saturates to -128).
func roundEvenSat8(v float32) int32 {
	r := math.RoundToEven(float64(v))
	switch {
	case r != r || r < -128:
		return -128
	case r > 127:
		return 127
	}
	return int32(r)
}

// quantQ8X86 is the x86 AVX/AVX2 path of ggml-cpu's quantize_row_q8_0 and
// quantize_row_q8_1 for one block x of 32: d = amax/127 (stored as fp16),
// id = 127/amax, q = round-half-even(x*id). It writes d at b[0:2] and the
// quants at b[qoff:] and returns d and the sum of the quants.
func quantQ8X86(x []float32, b []byte, qoff int) (float32, int32) {
	amax := absMax(x)
	d := amax / 127
	putF16(b, d)
	var id float32
	if amax != 0 {
		id = 127 / amax
	}
	var sum int32
	for j, v := range x {
		q := roundEvenSat8(v * id)
		b[qoff+j] = byte(int8(q))
		sum += q
	}
	return d, sum
}

// quantQ8_0X86 is ggml-cpu's quantize_row_q8_0 on x86 (the activation
// quantizer for Q4_0/Q5_0/Q8_0/IQ4_NL weights).
func quantQ8_0X86(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/qk; ib++ {
		quantQ8X86(src[ib*qk:(ib+1)*qk], dst[ib*q8_0Bytes:], 2)
	}
}

// quantQ8_1X86 is ggml-cpu's quantize_row_q8_1 on x86 (AVX2): s = fp16(d * sum).
func quantQ8_1X86(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/qk; ib++ {
		b := dst[ib*q8_1Bytes:]
		d, sum := quantQ8X86(src[ib*qk:(ib+1)*qk], b, 4)
		putF16(b[2:], d*float32(sum))
	}
}

// quantQ8_KRef is quantize_row_q8_K_ref (also ggml-cpu's quantize_row_q8_K
// on x86): iscale = -127/max where max is the signed value of largest
// magnitude, q = min(127, nearest_int(iscale*x)), d = 1/iscale (float32),
// bsums = sums of 16 quants. An all-zero block gets d = 0, qs = 0 and, as in
// ggml (which leaves them unwritten), bsums set to 0 here.
func quantQ8_KRef(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/qkK; ib++ {
		x := src[ib*qkK : (ib+1)*qkK]
		b := dst[ib*q8_KBytes : (ib+1)*q8_KBytes]
		var amax, mx float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax, mx = a, v
			}
		}
		if amax == 0 {
			clear(b)
			continue
		}
		iscale := -127 / mx
		for j, v := range x {
			b[4+j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for k := 0; k < qkK/16; k++ {
			var sum int16
			for _, q := range b[4+16*k : 4+16*k+16] {
				sum += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(b[260+2*k:], uint16(sum))
		}
		binary.LittleEndian.PutUint32(b, math.Float32bits(1/iscale))
	}
}

// vecDotQ8_0 is ggml_vec_dot_q8_0_q8_0 (scalar):
// sumf += sumi * (dx*dy) per block.
func vecDotQ8_0(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*q8_0Bytes:], a[ib*q8_0Bytes:]
		var sumi int32
		for j := 0; j < qk; j++ {
			sumi += int32(int8(x[2+j])) * int32(int8(y[2+j]))
		}
		sumf += float32(float32(sumi) * (f16(x) * f16(y)))
	}
	return sumf
}
