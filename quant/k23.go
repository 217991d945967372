package quant

import (
	"encoding/binary"
	"math"
)

// Q2_K and Q3_K: 2-bit quants in super-blocks of 256 with 16 sub-blocks of 16.
//
// block_q2_K, 84 bytes:
//
//	[0:16]  scales[16] per sub-block: low nibble = scale, high nibble = min
//	[16:80] qs[64]     2-bit quants
//	[80:82] d          fp16, super-scale of the scales
//	[82:84] dmin       fp16, super-scale of the mins
//
//	x = d*(scales[s]&0xf) * q - dmin*(scales[s]>>4), q in 0..3
//
// block_q3_K, 110 bytes:
//
//	[0:32]    hmask[32] bit 2 of every quant
//	[32:96]   qs[64]    low 2 bits of every quant
//	[96:108]  scales[12] sixteen 6-bit scales, stored with a bias of 32
//	[108:110] d          fp16 super-scale
//
//	x = d*(scale[s]-32) * (q - 4), q in 0..7 (q - 4 in -4..3)
//
// Quant order (both): element e = 128*h + 32*k + l (h = 0..1, k = 0..3,
// l = 0..31) sits in bits 2k..2k+1 of qs[32*h + l]; its sub-block is e/16.
// In Q3_K its third bit is bit (4*h + k) of hmask[l], i.e. element e uses bit
// e/32 of hmask[e%32]. Q3_K scale s (0..15): low 4 bits are the low nibble of
// scales[s] for s < 8 and the high nibble of scales[s-8] for s >= 8; the top 2
// bits are bits 2*(s/4)..2*(s/4)+1 of scales[8 + s%4].
const (
	q2_KBytes = 84
	q3_KBytes = 110
)

// crumb returns the 2-bit field of element e (0..255) of a Q2_K/Q3_K qs array.
func crumb(qs []byte, e int) int {
	return int(qs[32*(e/128)+e%32]>>(2*(e%128/32))) & 3
}

// packCrumbs stores 256 2-bit values into qs[64] in the order above.
func packCrumbs(L []uint8, qs []byte) {
	for j := 0; j < qkK; j += 128 {
		for l := 0; l < 32; l++ {
			qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
		}
	}
}

// q3Scale returns scale s (0..15) of a Q3_K block without the bias of 32.
func q3Scale(sc []byte, s int) int {
	lo := sc[s%8] >> (4 * (s / 8)) & 0xf
	hi := sc[8+s%4] >> (2 * (s / 4)) & 3
	return int(lo | hi<<4)
}

// q3Scales returns the 16 scales of a Q3_K block with the bias of 32 removed.
func q3Scales(sc []byte) (out [16]int8) {
	for s := range out {
		out[s] = int8(q3Scale(sc, s) - 32)
	}
	return out
}

func dequantQ2_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q2_KBytes:]
		y := dst[ib*qkK:]
		d, dmin := f16(b[80:]), f16(b[82:])
		for e := 0; e < qkK; e++ {
			sc := b[e/16]
			dl, ml := d*float32(sc&0xf), float32(dmin*float32(sc>>4))
			y[e] = float32(dl*float32(crumb(b[16:], e))) - ml
		}
	}
}

func dequantQ3_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q3_KBytes:]
		y := dst[ib*qkK:]
		d := f16(b[108:])
		sc := q3Scales(b[96:108])
		for e := 0; e < qkK; e++ {
			dl := d * float32(sc[e/16])
			q := crumb(b[32:], e)
			if b[e%32]>>(e/32)&1 == 0 {
				q -= 4
			}
			y[e] = dl * float32(q)
		}
	}
}

// quantQ2_K is quantize_row_q2_K_ref: per sub-block of 16 a make_qkx2_quants
// fit (nmax 3, weights |x|, mean absolute error, 16 steps from -0.5 by 0.1),
// then scales and mins quantized to 4 bits against their maxima, then the
// quants recomputed against the stored scales.
func quantQ2_K(src []float32, dst []byte) {
	var L [qkK]uint8
	var Laux [16]uint8
	var weights [16]float32
	var mins, scales [qkK / 16]float32
	const q4scale = 15
	for ib := 0; ib < len(src)/qkK; ib++ {
		x := src[ib*qkK : (ib+1)*qkK]
		b := dst[ib*q2_KBytes : (ib+1)*q2_KBytes]
		var maxScale, maxMin float32
		for j := 0; j < qkK/16; j++ {
			for l := 0; l < 16; l++ {
				weights[l] = abs32(x[16*j+l])
			}
			scales[j], mins[j] = makeQKX2Quants(16, 3, x[16*j:], weights[:], L[16*j:], Laux[:], -0.5, 0.1, 15, true)
			maxScale = maxf(maxScale, scales[j])
			maxMin = maxf(maxMin, mins[j])
		}
		sc := b[0:16]
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := range sc {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			putF16(b[80:], maxScale/q4scale)
		} else {
			clear(sc)
			putF16(b[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := range sc {
				sc[j] |= uint8(nearestInt(iscale*mins[j]) << 4)
			}
			putF16(b[82:], maxMin/q4scale)
		} else {
			putF16(b[82:], 0)
		}
		d, dmin := f16(b[80:]), f16(b[82:])
		for j := 0; j < qkK/16; j++ {
			dj := d * float32(sc[j]&0xf)
			if dj == 0 {
				continue
			}
			dm := float32(dmin * float32(sc[j]>>4))
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = uint8(clampInt(nearestInt((x[16*j+ii]+dm)/dj), 0, 3))
			}
		}
		packCrumbs(L[:], b[16:80])
	}
}

// quantQ3_K is quantize_row_q3_K_ref: per sub-block of 16 a make_q3_quants
// fit (nmax 4), the 16 scales quantized to 6 bits against the one of largest
// magnitude (d = max/-32), then the quants recomputed against the stored
// scales and split into hmask (bit 2) and qs (bits 0..1).
func quantQ3_K(src []float32, dst []byte) {
	var L8 [qkK]int8
	var L [qkK]uint8
	var scales [qkK / 16]float32
	for ib := 0; ib < len(src)/qkK; ib++ {
		x := src[ib*qkK : (ib+1)*qkK]
		b := dst[ib*q3_KBytes : (ib+1)*q3_KBytes]
		var maxScale, amax float32
		for j := 0; j < qkK/16; j++ {
			scales[j] = makeQ3Quants(16, 4, x[16*j:], L8[16*j:])
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		sc := b[96:108]
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < qkK/16; j++ {
				l := int8(nearestInt(iscale * scales[j]))
				l = max(-32, min(31, l)) + 32
				if j < 8 {
					sc[j] = uint8(l) & 0xf
				} else {
					sc[j-8] |= (uint8(l) & 0xf) << 4
				}
				l >>= 4
				sc[j%4+8] |= uint8(l) << (2 * (j / 4))
			}
			putF16(b[108:], 1/iscale)
		} else {
			putF16(b[108:], 0)
		}
		d := f16(b[108:])
		for j := 0; j < qkK/16; j++ {
			dj := d * float32(int8(q3Scale(sc, j)-32))
			if dj == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				L8[16*j+ii] = int8(clampInt(nearestInt(x[16*j+ii]/dj), -4, 3) + 4)
			}
		}
		hmask := b[0:32]
		clear(hmask)
		for j := 0; j < qkK; j++ {
			L[j] = uint8(L8[j])
			if L[j] > 3 {
				hmask[j%32] |= 1 << (j / 32)
				L[j] -= 4
			}
		}
		packCrumbs(L[:], b[32:96])
	}
}

// q8K returns the float32 scale d, the quants and the bsums of a Q8_K block.
func q8K(b []byte) (float32, []byte, []byte) {
	return math.Float32frombits(binary.LittleEndian.Uint32(b)), b[4:260], b[260:292]
}

func bsum(bs []byte, k int) int32 { return int32(int16(binary.LittleEndian.Uint16(bs[2*k:]))) }

// vecDotQ2_K is ggml_vec_dot_q2_K_q8_K (scalar): per super-block
// isum = sum_s scale_s * sum(q*a), summs = sum_s min_s * bsums[s],
// sumf += dall*isum - dmin*summs with dall = ad*d, dmin = ad*dmin.
func vecDotQ2_K(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qkK; ib++ {
		x := w[ib*q2_KBytes:]
		ad, aq, bs := q8K(a[ib*q8_KBytes:])
		var summs, isum int32
		for s := 0; s < 16; s++ {
			summs += bsum(bs, s) * int32(x[s]>>4)
			var isuml int32
			for e := 16 * s; e < 16*s+16; e++ {
				isuml += int32(int8(aq[e])) * int32(crumb(x[16:], e))
			}
			isum += int32(x[s]&0xf) * isuml
		}
		dall := ad * f16(x[80:])
		dmin := ad * f16(x[82:])
		sumf += float32(dall*float32(isum)) - float32(dmin*float32(summs))
	}
	return sumf
}

// vecDotQ3_K is ggml_vec_dot_q3_K_q8_K (scalar): integer products collected
// in 8 lanes (lane = element index mod 8), each lane scaled by d = dx*ad and
// accumulated per lane across super-blocks, lanes summed at the end.
func vecDotQ3_K(n int, w, a []byte) float32 {
	var sums [8]float32
	for ib := 0; ib < n/qkK; ib++ {
		x := w[ib*q3_KBytes:]
		ad, aq, _ := q8K(a[ib*q8_KBytes:])
		sc := q3Scales(x[96:108])
		var aux32 [8]int32
		for e := 0; e < qkK; e++ {
			q := int32(crumb(x[32:], e))
			if x[e%32]>>(e/32)&1 == 0 {
				q -= 4
			}
			aux32[e%8] += int32(sc[e/16]) * (int32(int8(aq[e])) * q)
		}
		d := f16(x[108:]) * ad
		for l := range sums {
			sums[l] += float32(d * float32(aux32[l]))
		}
	}
	var sumf float32
	for _, s := range sums {
		sumf += s
	}
	return sumf
}
