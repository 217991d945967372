package quant

import "math"

// Q4_K and Q5_K: super-blocks of 256 with 8 sub-blocks of 32, each with a
// 6-bit scale and a 6-bit min.
//
// block_q4_K, 144 bytes:
//
//	[0:2]    d          fp16 super-scale of the scales
//	[2:4]    dmin       fp16 super-scale of the mins
//	[4:16]   scales[12] eight 6-bit scales and eight 6-bit mins (getScaleMinK4)
//	[16:144] qs[128]    4-bit quants
//
// block_q5_K, 176 bytes:
//
//	[0:2]    d
//	[2:4]    dmin
//	[4:16]   scales[12]
//	[16:48]  qh[32]     bit 4 of every quant
//	[48:176] qs[128]    low 4 bits
//
//	x = d*sc[s] * q - dmin*m[s], s = e/32 (q in 0..15 for Q4_K, 0..31 for Q5_K)
//
// Quant order: element e = 64*c + 32*hi + l (chunk c = 0..3, hi = 0..1,
// l = 0..31) is the low (hi=0) or high (hi=1) nibble of qs[32*c + l]. In
// Q5_K its bit 4 is bit 2*c + hi = e/32 of qh[l], i.e. bit e/32 of qh[e%32].
//
// Scale packing (sub-block s, 6-bit scale sc and min m):
//
//	s < 4:  scales[s] = sc (bits 0..5), scales[s+4] = m (bits 0..5)
//	s >= 4: scales[s+4] = sc&0xf | (m&0xf)<<4,
//	        bits 6..7 of scales[s-4] = sc>>4, bits 6..7 of scales[s] = m>>4
const (
	q4_KBytes = 144
	q5_KBytes = 176
)

// k4Scales unpacks the eight 6-bit scales and mins of a Q4_K/Q5_K block b.
func k4Scales(b []byte) (sc, m [8]uint8) {
	for s := range sc {
		sc[s], m[s] = getScaleMinK4(s, b[4:16])
	}
	return sc, m
}

// nibble returns the 4-bit field of element e (0..255) of a Q4_K/Q5_K qs array.
func nibble(qs []byte, e int) int {
	return int(qs[32*(e/64)+e%32]>>(4*(e%64/32))) & 0xf
}

// q5Quant returns the 5-bit quant of element e of a Q5_K block b.
func q5Quant(b []byte, e int) int {
	return nibble(b[48:], e) | int(b[16+e%32]>>(e/32)&1)<<4
}

func dequantQ4_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q4_KBytes:]
		y := dst[ib*qkK:]
		d, dmin := f16(b), f16(b[2:])
		sc, m := k4Scales(b)
		for e := 0; e < qkK; e++ {
			d1, m1 := d*float32(sc[e/32]), float32(dmin*float32(m[e/32]))
			y[e] = float32(d1*float32(nibble(b[16:], e))) - m1
		}
	}
}

func dequantQ5_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*q5_KBytes:]
		y := dst[ib*qkK:]
		d, dmin := f16(b), f16(b[2:])
		sc, m := k4Scales(b)
		for e := 0; e < qkK; e++ {
			d1, m1 := d*float32(sc[e/32]), float32(dmin*float32(m[e/32]))
			y[e] = float32(d1*float32(q5Quant(b, e))) - m1
		}
	}
}

// quantK45 is the shared body of quantize_row_q4_K_ref (nmax 15, search from
// -1 by 0.1 in 20 steps) and quantize_row_q5_K_ref (nmax 31, from -0.5 by 0.1
// in 15 steps): per sub-block of 32 a make_qkx2_quants fit with weights
// sqrt(mean(x^2)) + |x| (squared error), scales and mins quantized to 6 bits
// against their maxima (d = max/63), then the quants recomputed against the
// stored values. It writes d, dmin and scales into b and returns L.
func quantK45(x []float32, b []byte, nmax int, rmin float32, nstep int, L *[qkK]uint8) {
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [qkK / 32]float32
	var maxScale, maxMin float32
	for j := 0; j < qkK/32; j++ {
		xs := x[32*j : 32*j+32]
		var sumX2 float32
		for _, v := range xs {
			sumX2 += float32(v * v)
		}
		avX := math32Sqrt(sumX2 / 32)
		for l, v := range xs {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(32, nmax, xs, weights[:], L[32*j:], Laux[:], rmin, 0.1, nstep, false)
		maxScale = maxf(maxScale, scales[j])
		maxMin = maxf(maxMin, mins[j])
	}
	var invScale, invMin float32
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	sc := b[4:16]
	for j := 0; j < qkK/32; j++ {
		ls := min(63, uint8(nearestInt(invScale*scales[j])))
		lm := min(63, uint8(nearestInt(invMin*mins[j])))
		if j < 4 {
			sc[j] = ls
			sc[j+4] = lm
		} else {
			sc[j+4] = ls&0xf | (lm&0xf)<<4
			sc[j-4] |= (ls >> 4) << 6
			sc[j] |= (lm >> 4) << 6
		}
	}
	putF16(b, maxScale/63)
	putF16(b[2:], maxMin/63)
	d, dmin := f16(b), f16(b[2:])
	for j := 0; j < qkK/32; j++ {
		s, m := getScaleMinK4(j, sc)
		dj := d * float32(s)
		if dj == 0 {
			continue
		}
		dm := float32(dmin * float32(m))
		for ii := 0; ii < 32; ii++ {
			L[32*j+ii] = uint8(clampInt(nearestInt((x[32*j+ii]+dm)/dj), 0, nmax))
		}
	}
}

// math32Sqrt is sqrtf (a correctly rounded float64 square root rounds to the
// correctly rounded float32 one).
func math32Sqrt(v float32) float32 { return float32(math.Sqrt(float64(v))) }

// quantQ4_K is quantize_row_q4_K_ref.
func quantQ4_K(src []float32, dst []byte) {
	var L [qkK]uint8
	for ib := 0; ib < len(src)/qkK; ib++ {
		b := dst[ib*q4_KBytes : (ib+1)*q4_KBytes]
		quantK45(src[ib*qkK:(ib+1)*qkK], b, 15, -1, 20, &L)
		q := b[16:]
		for j := 0; j < qkK; j += 64 {
			for l := 0; l < 32; l++ {
				q[j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	}
}

// quantQ5_K is quantize_row_q5_K_ref.
func quantQ5_K(src []float32, dst []byte) {
	var L [qkK]uint8
	for ib := 0; ib < len(src)/qkK; ib++ {
		b := dst[ib*q5_KBytes : (ib+1)*q5_KBytes]
		quantK45(src[ib*qkK:(ib+1)*qkK], b, 31, -0.5, 15, &L)
		qh, ql := b[16:48], b[48:]
		clear(qh)
		for e := 0; e < qkK; e++ {
			if e%64 < 32 {
				ql[e/64*32+e%32] = L[e] & 0xf
			} else {
				ql[e/64*32+e%32] |= (L[e] & 0xf) << 4
			}
			qh[e%32] |= (L[e] >> 4) << (e / 32)
		}
	}
}

// vecDotK45 is the scalar body of ggml_vec_dot_q4_K_q8_K and
// ggml_vec_dot_q5_K_q8_K: integer products scaled by the sub-block scale are
// collected in 8 lanes (element index mod 8); per super-block the lanes get
// d = dx*ad and the min term dmin*ad*sum(bsums*m) is subtracted from sumf
// directly; the lanes are added to sumf at the end.
func vecDotK45(n int, w, a []byte, bytes int, quant func(b []byte, e int) int) float32 {
	var sums [8]float32
	var sumf float32
	for ib := 0; ib < n/qkK; ib++ {
		x := w[ib*bytes:]
		ad, aq, bs := q8K(a[ib*q8_KBytes:])
		sc, m := k4Scales(x)
		var sumi int32
		for k := 0; k < qkK/16; k++ {
			sumi += bsum(bs, k) * int32(m[k/2])
		}
		var aux32 [8]int32
		for e := 0; e < qkK; e++ {
			aux32[e%8] += int32(sc[e/32]) * (int32(int8(aq[e])) * int32(quant(x, e)))
		}
		d := f16(x) * ad
		for l := range sums {
			sums[l] += float32(d * float32(aux32[l]))
		}
		dmin := f16(x[2:]) * ad
		sumf -= float32(dmin * float32(sumi))
	}
	for _, s := range sums {
		sumf += s
	}
	return sumf
}

func vecDotQ4_K(n int, w, a []byte) float32 {
	return vecDotK45(n, w, a, q4_KBytes, func(b []byte, e int) int { return nibble(b[16:], e) })
}

func vecDotQ5_K(n int, w, a []byte) float32 {
	return vecDotK45(n, w, a, q5_KBytes, q5Quant)
}
