package quant

import "math"

// Scale searches shared by the K-quant reference quantizers, after the static
// helpers of ggml-quants.c (nearest_int, make_qx_quants, make_q3_quants,
// make_qkx2_quants, get_scale_min_k4). Sums are float32 and accumulate in
// index order exactly like the C loops; every product that is added is
// rounded first (float32(...)) so Go never fuses it into an FMA.

// groupMaxEps is GROUP_MAX_EPS: a group whose largest magnitude is below it
// is treated as all zero.
const groupMaxEps = 1e-15

// nearestInt is ggml's nearest_int: adds 1.5*2^23 so the float addition rounds
// to an integer (ties to even) and reads it from the mantissa. Valid for
// |f| <= 4194303, like the C version.
func nearestInt(f float32) int {
	v := float32(f) + 12582912 // float32(f): f must already be rounded when it is a product
	return int(int32(math.Float32bits(v)&0x007fffff) - 0x00400000)
}

// clampInt returns v limited to [lo, hi].
func clampInt(v, lo, hi int) int { return max(lo, min(hi, v)) }

// makeQXQuants is make_qx_quants with rmse_type 1: symmetric quants
// L[i] in [0, 2*nmax) for the n values x, weights qw[i] (x[i]^2 when qw is
// nil), scale chosen among iscale = -(nmax + 0.1*is)/max, is = -9..9, by the
// weighted least-squares criterion sumlx^2/suml2. Returns the scale
// (x ≈ scale * (L - nmax)). Used by Q6_K.
func makeQXQuants(n, nmax int, x []float32, L []int8, qw []float32) float32 {
	var mx, amax float32
	for i := 0; i < n; i++ {
		if ax := abs32(x[i]); ax > amax {
			amax, mx = ax, x[i]
		}
	}
	if amax < groupMaxEps {
		clear(L[:n])
		return 0
	}
	weight := func(i int) float32 {
		if qw != nil {
			return qw[i]
		}
		return float32(x[i] * x[i])
	}
	fnmax := float32(nmax)
	iscale := -fnmax / mx
	var sumlx, suml2 float32
	for i := 0; i < n; i++ {
		l := clampInt(nearestInt(iscale*x[i]), -nmax, nmax-1)
		L[i] = int8(l + nmax)
		w, fl := weight(i), float32(l)
		sumlx += float32(w * x[i] * fl)
		suml2 += float32(w * fl * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fnmax + float32(0.1*float32(is))) / mx
		sumlx, suml2 = 0, 0
		for i := 0; i < n; i++ {
			fl := float32(clampInt(nearestInt(iscale*x[i]), -nmax, nmax-1))
			w := weight(i)
			sumlx += float32(w * x[i] * fl)
			suml2 += float32(w * fl * fl)
		}
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			for i := 0; i < n; i++ {
				L[i] = int8(nmax + clampInt(nearestInt(iscale*x[i]), -nmax, nmax-1))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQ3Quants is make_q3_quants with do_rmse: symmetric quants in
// [-nmax, nmax) refined for up to 5 passes by moving single quants while the
// weighted (w = x^2) criterion sumlx^2/suml2 improves. L receives l + nmax;
// returns the scale. Used by Q3_K.
func makeQ3Quants(n, nmax int, x []float32, L []int8) float32 {
	var mx, amax float32
	for i := 0; i < n; i++ {
		if ax := abs32(x[i]); ax > amax {
			amax, mx = ax, x[i]
		}
	}
	if amax < groupMaxEps {
		clear(L[:n])
		return 0
	}
	iscale := -float32(nmax) / mx
	var sumlx, suml2 float32
	for i := 0; i < n; i++ {
		l := clampInt(nearestInt(iscale*x[i]), -nmax, nmax-1)
		L[i] = int8(l)
		w, fl := float32(x[i]*x[i]), float32(l)
		sumlx += float32(w * x[i] * fl)
		suml2 += float32(w * fl * fl)
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i := 0; i < n; i++ {
			w, li := float32(x[i]*x[i]), float32(L[i])
			slx := sumlx - float32(w*x[i]*li)
			if slx > 0 {
				sl2 := suml2 - float32(w*li*li)
				newL := clampInt(nearestInt(x[i]*sl2/slx), -nmax, nmax-1)
				if newL != int(L[i]) {
					fl := float32(newL)
					slx += float32(w * x[i] * fl)
					sl2 += float32(w * fl * fl)
					if sl2 > 0 && slx*slx*suml2 > sumlx*sumlx*sl2 {
						L[i] = int8(newL)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		L[i] += int8(nmax)
	}
	return sumlx / suml2
}

// makeQKX2Quants is make_qkx2_quants: asymmetric quants L[i] in [0, nmax]
// with x ≈ scale*L - theMin (theMin >= 0). It starts from min/max, then tries
// iscale = (rmin + rdelta*is + nmax)/(max - min) for is = 0..nstep, fitting
// scale and min by weighted least squares and keeping the candidate with the
// smallest weighted error (|diff| if useMad, else diff^2). Laux is scratch of
// length n. Used by Q2_K, Q4_K and Q5_K.
func makeQKX2Quants(n, nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int, useMad bool) (scale, theMin float32) {
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		lo = minf(lo, x[i])
		hi = maxf(hi, x[i])
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		clear(L[:n])
		return 0, -lo
	}
	fnmax := float32(nmax)
	iscale := fnmax / (hi - lo)
	scale = 1 / iscale
	errOf := func(diff float32) float32 {
		if useMad {
			return abs32(diff)
		}
		return float32(diff * diff)
	}
	var bestMad float32
	for i := 0; i < n; i++ {
		l := clampInt(nearestInt(float32(iscale*(x[i]-lo))), 0, nmax)
		L[i] = uint8(l)
		diff := float32(scale*float32(l)) + lo - x[i]
		bestMad += float32(weights[i] * errOf(diff))
	}
	if nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + float32(rdelta*float32(is)) + fnmax) / (hi - lo)
		var sumL, sumL2, sumXL float32
		for i := 0; i < n; i++ {
			l := clampInt(nearestInt(float32(iscale*(x[i]-lo))), 0, nmax)
			Laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(w * fl * fl)
			sumXL += float32(w * fl * x[i])
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var mad float32
			for i := 0; i < n; i++ {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - x[i]
				mad += float32(weights[i] * errOf(diff))
			}
			if mad < bestMad {
				copy(L[:n], Laux[:n])
				bestMad = mad
				scale, lo = thisScale, thisMin
			}
		}
	}
	return scale, -lo
}

// minf and maxf are the C comparisons `if (x < min) min = x` (NaN never wins).
func minf(a, b float32) float32 {
	if b < a {
		return b
	}
	return a
}

func maxf(a, b float32) float32 {
	if b > a {
		return b
	}
	return a
}

// getScaleMinK4 is get_scale_min_k4: the 6-bit scale and min of sub-block j
// (0..7) from the 12 packed bytes q of a Q4_K/Q5_K block. Sub-blocks 0..3 use
// the low 6 bits of q[j] and q[j+4]; sub-blocks 4..7 take their low 4 bits
// from q[j+4] (scale low nibble, min high nibble) and their top 2 bits from
// bits 6..7 of q[j-4] (scale) and q[j] (min).
func getScaleMinK4(j int, q []byte) (sc, m uint8) {
	if j < 4 {
		return q[j] & 63, q[j+4] & 63
	}
	return q[j+4]&0xf | (q[j-4]>>6)<<4, q[j+4]>>4 | (q[j]>>6)<<4
}
