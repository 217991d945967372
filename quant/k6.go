package quant

// Q6_K: super-blocks of 256 with 16 sub-blocks of 16, 6-bit quants, 8-bit
// signed sub-block scales.
//
// block_q6_K, 210 bytes:
//
//	[0:128]   ql[128]    low 4 bits of every quant
//	[128:192] qh[64]     high 2 bits of every quant
//	[192:208] scales[16] int8 sub-block scales
//	[208:210] d          fp16 super-scale
//
//	x = d * scales[e/16] * (q - 32), q in 0..63
//
// Quant order: element e = 128*h + 32*k + l (h = 0..1, k = 0..3, l = 0..31):
// low 4 bits are the low (k < 2) or high (k >= 2) nibble of
// ql[64*h + 32*(k%2) + l]; high 2 bits are bits 2k..2k+1 of qh[32*h + l].
const q6_KBytes = 210

// q6Quant returns the 6-bit quant (0..63) of element e of a Q6_K block b.
func q6Quant(b []byte, e int) int {
	h, k, l := e/128, e%128/32, e%32
	lo := b[64*h+32*(k%2)+l] >> (4 * (k / 2)) & 0xf
	hi := b[128+32*h+l] >> (2 * k) & 3
	return int(lo | hi<<4)
}

func dequantQ6_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q6_KBytes:]
		y := dst[ib*qkK:]
		d := f16(b[208:])
		for e := 0; e < qkK; e++ {
			y[e] = d * float32(int8(b[192+e/16])) * float32(q6Quant(b, e)-32)
		}
	}
}

// quantQ6_K is quantize_row_q6_K_ref: per sub-block of 16 a make_qx_quants
// fit (nmax 32, weights x^2), the 16 scales quantized to int8 against the one
// of largest magnitude (d = max/-128), then the quants recomputed against the
// stored scales. A super-block whose scales are all below GROUP_MAX_EPS is
// written as zeros.
func quantQ6_K(src []float32, dst []byte) {
	var L [qkK]int8
	var scales [qkK / 16]float32
	for ib := 0; ib < len(src)/qkK; ib++ {
		x := src[ib*qkK : (ib+1)*qkK]
		b := dst[ib*q6_KBytes : (ib+1)*q6_KBytes]
		var maxScale, maxAbsScale float32
		for j := 0; j < qkK/16; j++ {
			scales[j] = makeQXQuants(16, 32, x[16*j:], L[16*j:], nil)
			if s := abs32(scales[j]); s > maxAbsScale {
				maxAbsScale, maxScale = s, scales[j]
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		putF16(b[208:], 1/iscale)
		sc := b[192:208]
		for j := range sc {
			sc[j] = byte(int8(min(127, nearestInt(iscale*scales[j]))))
		}
		d := f16(b[208:])
		for j := 0; j < qkK/16; j++ {
			dj := d * float32(int8(sc[j]))
			if dj == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = int8(clampInt(nearestInt(x[16*j+ii]/dj), -32, 31) + 32)
			}
		}
		ql, qh := b[0:128], b[128:192]
		clear(ql)
		clear(qh)
		for e := 0; e < qkK; e++ {
			h, k, l := e/128, e%128/32, e%32
			q := uint8(L[e])
			ql[64*h+32*(k%2)+l] |= (q & 0xf) << (4 * (k / 2))
			qh[32*h+l] |= (q >> 4) << (2 * k)
		}
	}
}

// vecDotQ6_K is ggml_vec_dot_q6_K_q8_K (scalar): integer products times the
// sub-block scale in 8 lanes (element index mod 8), each lane scaled by
// d = dx*ad per super-block, lanes summed at the end.
func vecDotQ6_K(n int, w, a []byte) float32 {
	var sums [8]float32
	for ib := 0; ib < n/qkK; ib++ {
		x := w[ib*q6_KBytes:]
		ad, aq, _ := q8K(a[ib*q8_KBytes:])
		var aux32 [8]int32
		for e := 0; e < qkK; e++ {
			q := int32(q6Quant(x, e) - 32)
			aux32[e%8] += int32(int8(x[192+e/16])) * (int32(int8(aq[e])) * q)
		}
		d := f16(x[208:]) * ad
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
