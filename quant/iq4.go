package quant

import "encoding/binary"

// IQ4_NL and IQ4_XS: 4-bit indices into the non-linear table kvalues_iq4nl
// (iq4nlValues).
//
// block_iq4_nl, 32 elements, 18 bytes:
//
//	[0:2]   d      fp16 scale
//	[2:18]  qs[16] 4-bit indices, element j in the low nibble of qs[j] (j < 16)
//	               or the high nibble of qs[j-16]
//
//	x = d * kvalues_iq4nl[index]
//
// block_iq4_xs, 256 elements (8 sub-blocks of 32), 136 bytes:
//
//	[0:2]    d           fp16 super-scale
//	[2:4]    scales_h    uint16, bits 2s..2s+1 = top 2 bits of sub-block s's scale
//	[4:8]    scales_l[4] low 4 bits of the scales, sub-block s in nibble s%2 of byte s/2
//	[8:136]  qs[128]     indices, 16 bytes per sub-block laid out as in IQ4_NL
//
//	x = d * (ls - 32) * kvalues_iq4nl[index], ls the 6-bit scale of sub-block e/32
const (
	iq4nlBytes = 18
	iq4xsBytes = 136
)

// iq4nlValues returns ggml's kvalues_iq4nl, the 16 levels of IQ4_NL/IQ4_XS
// (a function, not a variable, so the table cannot be modified).
func iq4nlValues() [16]int8 {
	return [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}
}

// iq4Index returns the 4-bit index of element j (0..31) of a 16-byte group.
func iq4Index(qs []byte, j int) int { return int(qs[j%16]>>(4*(j/16))) & 0xf }

// iq4xsScale returns the 6-bit scale (with its bias of 32) of sub-block s.
func iq4xsScale(b []byte, s int) int {
	h := binary.LittleEndian.Uint16(b[2:])
	return int(b[4+s/2]>>(4*(s%2)))&0xf | int(h>>(2*s)&3)<<4
}

func dequantIQ4_NL(src []byte, dst []float32) {
	kv := iq4nlValues()
	for ib := 0; ib < len(dst)/qk; ib++ {
		b := src[ib*iq4nlBytes:]
		d := f16(b)
		for j := 0; j < qk; j++ {
			dst[ib*qk+j] = d * float32(kv[iq4Index(b[2:], j)])
		}
	}
}

func dequantIQ4_XS(src []byte, dst []float32) {
	kv := iq4nlValues()
	for ib := 0; ib < len(dst)/qkK; ib++ {
		b := src[ib*iq4xsBytes:]
		d := f16(b)
		for s := 0; s < qkK/32; s++ {
			dl := d * float32(iq4xsScale(b, s)-32)
			for j := 0; j < 32; j++ {
				dst[ib*qkK+32*s+j] = dl * float32(kv[iq4Index(b[8+16*s:], j)])
			}
		}
	}
}

// bestIndexInt8 is best_index_int8: the index of the table value nearest to
// x (binary search; the upper neighbour wins unless the lower one is strictly
// closer).
func bestIndexInt8(val [16]int8, x float32) int {
	n := len(val)
	if x <= float32(val[0]) {
		return 0
	}
	if x >= float32(val[n-1]) {
		return n - 1
	}
	ml, mu := 0, n-1
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < float32(val[mav]) {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-float32(val[mu-1]) < float32(val[mu])-x {
		return mu - 1
	}
	return mu
}

// iq4Fit is the per-block scale search of quantize_row_iq4_nl_impl with
// ntry = 7 and no importance weights (weights x^2): start from d = max/127,
// fit d by least squares on the chosen indices, then try
// id = (itry - 127)/max for itry = -7..7 and keep the best sumqx^2/sumq2.
// It fills Lb with the indices of the starting fit and returns d (0 for a
// block whose largest magnitude is below GROUP_MAX_EPS).
func iq4Fit(xb []float32, Lb []uint8) float32 {
	const ntry = 7
	kv := iq4nlValues()
	var weight [32]float32
	var amax, mx float32
	for j, v := range xb {
		weight[j] = float32(v * v)
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax < groupMaxEps {
		return 0
	}
	v0 := float32(kv[0])
	d := -mx / v0
	id := 1 / d
	var sumqx, sumq2 float32
	for j, v := range xb {
		l := bestIndexInt8(kv, id*v)
		Lb[j] = uint8(l)
		q := float32(kv[l])
		sumqx += float32(weight[j] * q * v)
		sumq2 += float32(weight[j] * q * q)
	}
	d = sumqx / sumq2
	best := d * sumqx
	for itry := -ntry; itry <= ntry; itry++ {
		id = float32(itry+int(kv[0])) / mx
		sumqx, sumq2 = 0, 0
		for j, v := range xb {
			q := float32(kv[bestIndexInt8(kv, id*v)])
			sumqx += float32(weight[j] * q * v)
			sumq2 += float32(weight[j] * q * q)
		}
		if sumq2 > 0 && sumqx*sumqx > best*sumq2 {
			d = sumqx / sumq2
			best = d * sumqx
		}
	}
	return d
}

// packIQ4 stores 32 indices into 16 bytes (element j low nibble, j+16 high).
func packIQ4(L []uint8, qs []byte) {
	for j := 0; j < 16; j++ {
		qs[j] = L[j] | L[j+16]<<4
	}
}

// quantIQ4_NL is quantize_iq4_nl with no importance matrix (what
// llama-quantize runs; note quantize_row_iq4_nl_ref differs: it skips the
// search, ntry = -1): the block scale from iq4Fit is stored as fp16 and the
// indices are recomputed with 1/scale (the unrounded scale).
func quantIQ4_NL(src []float32, dst []byte) {
	kv := iq4nlValues()
	var L [32]uint8
	for ib := 0; ib < len(src)/qk; ib++ {
		x := src[ib*qk : (ib+1)*qk]
		b := dst[ib*iq4nlBytes : (ib+1)*iq4nlBytes]
		d := iq4Fit(x, L[:])
		putF16(b, d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for j, v := range x {
			L[j] = uint8(bestIndexInt8(kv, id*v))
		}
		packIQ4(L[:], b[2:])
	}
}

// quantIQ4_XS is quantize_iq4_xs with no importance matrix: per sub-block of
// 32 an iq4Fit scale, the scales quantized to 6 bits against the one of
// largest magnitude (d = max/-32, stored fp16), then the indices recomputed
// with 1/(d*l) using the unrounded d.
func quantIQ4_XS(src []float32, dst []byte) {
	kv := iq4nlValues()
	var L [32]uint8
	var scales [qkK / 32]float32
	for ib := 0; ib < len(src)/qkK; ib++ {
		x := src[ib*qkK : (ib+1)*qkK]
		b := dst[ib*iq4xsBytes : (ib+1)*iq4xsBytes]
		var maxScale, amaxScale float32
		for s := range scales {
			scales[s] = iq4Fit(x[32*s:32*s+32], L[:])
			if a := abs32(scales[s]); a > amaxScale {
				amaxScale, maxScale = a, scales[s]
			}
		}
		d := -maxScale / 32
		putF16(b, d)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var scalesH uint16
		for s := range scales {
			l := clampInt(nearestInt(id*scales[s]), -32, 31)
			dl := d * float32(l)
			var idl float32
			if dl != 0 {
				idl = 1 / dl
			}
			for j, v := range x[32*s : 32*s+32] {
				L[j] = uint8(bestIndexInt8(kv, idl*v))
			}
			packIQ4(L[:], b[8+16*s:])
			l += 32
			if s%2 == 0 {
				b[4+s/2] = uint8(l & 0xf)
			} else {
				b[4+s/2] |= uint8(l&0xf) << 4
			}
			scalesH |= uint16(l>>4) << (2 * s)
		}
		binary.LittleEndian.PutUint16(b[2:], scalesH)
	}
}

// iq4Dot returns sum(a[j] * kvalues[index j]) over one 32-element group.
func iq4Dot(qs, aq []byte) int32 {
	kv := iq4nlValues()
	var sumi1, sumi2 int32
	for j := 0; j < 16; j++ {
		sumi1 += int32(int8(aq[j])) * int32(kv[iq4Index(qs, j)])
		sumi2 += int32(int8(aq[j+16])) * int32(kv[iq4Index(qs, j+16)])
	}
	return sumi1 + sumi2
}

// vecDotIQ4_NL is ggml_vec_dot_iq4_nl_q8_0 (scalar): sumf += (dy*dx)*sumi.
func vecDotIQ4_NL(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qk; ib++ {
		x, y := w[ib*iq4nlBytes:], a[ib*q8_0Bytes:]
		d := f16(y) * f16(x)
		sumf += float32(d * float32(iq4Dot(x[2:], y[2:])))
	}
	return sumf
}

// vecDotIQ4_XS is ggml_vec_dot_iq4_xs_q8_K (scalar): per sub-block
// sumf += (dx*ad*(ls-32)) * sumi.
func vecDotIQ4_XS(n int, w, a []byte) float32 {
	var sumf float32
	for ib := 0; ib < n/qkK; ib++ {
		x := w[ib*iq4xsBytes:]
		ad, aq, _ := q8K(a[ib*q8_KBytes:])
		d4d8 := f16(x) * ad
		for s := 0; s < qkK/32; s++ {
			dl := d4d8 * float32(iq4xsScale(x, s)-32)
			sumf += float32(dl * float32(iq4Dot(x[8+16*s:], aq[32*s:])))
		}
	}
	return sumf
}
