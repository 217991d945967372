package kernels

import (
	"encoding/binary"
	"math"
)

// Portable kernels for the super-block formats (Q2_K, Q3_K, Q4_K, Q5_K,
// Q6_K, IQ4_XS) against Q8_K activations. Each weight super-block is
// unpacked once into kUnpacked and then dotted with every activation row of
// the tile, so a prefill tile reads and decodes each weight block once per
// up to maxTileTokens tokens.
//
// Every format reduces to the same integer form (ggml_vec_dot_<t>_q8_K):
//
//	dot = d·ad·Σ_s sc[s]·Σ_{16 elements of s} q·a − dmin·ad·Σ_s m[s]·bsum[s]
//
// over the 16 sub-blocks s of 16 elements, with q the signed quant value, sc
// the integer sub-block scale, m the integer sub-block min (zero for formats
// without mins) and bsum the activation's sum of 16 quants. Both sums are
// exact int32; only the float accumulation order differs from the scalar
// reference.

// kUnpacked is one decoded super-block.
type kUnpacked struct {
	q       [256]int8
	sc      [16]int32
	m       [16]int32
	d, dmin float32
	hasMin  bool
}

// kUnpackFunc decodes the super-block b into u.
type kUnpackFunc func(b []byte, u *kUnpacked)

// kvaluesIQ4NL is ggml's kvalues_iq4nl, the 16 levels of IQ4_NL/IQ4_XS.
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

func f16At(b []byte) float32 { return f16Table[binary.LittleEndian.Uint16(b)] }

// scaleMinK4 is ggml's get_scale_min_k4: the 6-bit scale and min of
// sub-block j (0..7) of a Q4_K/Q5_K block from its 12 packed bytes.
func scaleMinK4(j int, q []byte) (sc, m int32) {
	if j < 4 {
		return int32(q[j] & 63), int32(q[j+4] & 63)
	}
	return int32(q[j+4]&0xf | (q[j-4]>>6)<<4), int32(q[j+4]>>4 | (q[j]>>6)<<4)
}

func unpackQ4K(b []byte, u *kUnpacked) {
	b = b[:144]
	u.d, u.dmin, u.hasMin = f16At(b), f16At(b[2:]), true
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, b[4:16])
		u.sc[2*j], u.sc[2*j+1], u.m[2*j], u.m[2*j+1] = sc, sc, m, m
	}
	qs := (*[128]byte)(b[16:144])
	for c := 0; c < 4; c++ {
		q := (*[64]int8)(u.q[64*c : 64*c+64])
		src := (*[32]byte)(qs[32*c : 32*c+32])
		for l := 0; l < 32; l++ {
			q[l] = int8(src[l] & 0xf)
			q[l+32] = int8(src[l] >> 4)
		}
	}
}

func unpackQ5K(b []byte, u *kUnpacked) {
	b = b[:176]
	u.d, u.dmin, u.hasMin = f16At(b), f16At(b[2:]), true
	for j := 0; j < 8; j++ {
		sc, m := scaleMinK4(j, b[4:16])
		u.sc[2*j], u.sc[2*j+1], u.m[2*j], u.m[2*j+1] = sc, sc, m, m
	}
	qh := (*[32]byte)(b[16:48])
	qs := (*[128]byte)(b[48:176])
	for c := 0; c < 4; c++ {
		q := (*[64]int8)(u.q[64*c : 64*c+64])
		src := (*[32]byte)(qs[32*c : 32*c+32])
		s0, s1 := uint(2*c), uint(2*c+1)
		for l := 0; l < 32; l++ {
			h := qh[l]
			q[l] = int8(src[l]&0xf | (h>>s0&1)<<4)
			q[l+32] = int8(src[l]>>4 | (h>>s1&1)<<4)
		}
	}
}

func unpackQ6K(b []byte, u *kUnpacked) {
	b = b[:210]
	u.d, u.dmin, u.hasMin = f16At(b[208:]), 0, false
	for s := 0; s < 16; s++ {
		u.sc[s] = int32(int8(b[192+s]))
		u.m[s] = 0
	}
	for h := 0; h < 2; h++ {
		ql := (*[64]byte)(b[64*h : 64*h+64])
		qh := (*[32]byte)(b[128+32*h : 160+32*h])
		q := (*[128]int8)(u.q[128*h : 128*h+128])
		for l := 0; l < 32; l++ {
			hb := qh[l]
			q[l] = int8(ql[l]&0xf|(hb&3)<<4) - 32
			q[l+32] = int8(ql[l+32]&0xf|(hb>>2&3)<<4) - 32
			q[l+64] = int8(ql[l]>>4|(hb>>4&3)<<4) - 32
			q[l+96] = int8(ql[l+32]>>4|(hb>>6&3)<<4) - 32
		}
	}
}

func unpackQ3K(b []byte, u *kUnpacked) {
	b = b[:110]
	u.d, u.dmin, u.hasMin = f16At(b[108:]), 0, false
	sc := b[96:108]
	for s := 0; s < 16; s++ {
		lo := sc[s%8] >> (4 * (s / 8)) & 0xf
		hi := sc[8+s%4] >> (2 * (s / 4)) & 3
		u.sc[s] = int32(lo|hi<<4) - 32
		u.m[s] = 0
	}
	hm := (*[32]byte)(b[0:32])
	for h := 0; h < 2; h++ {
		qs := (*[32]byte)(b[32+32*h : 64+32*h])
		q := (*[128]int8)(u.q[128*h : 128*h+128])
		for k := 0; k < 4; k++ {
			shift, hbit := uint(2*k), uint(4*h+k)
			for l := 0; l < 32; l++ {
				v := int8(qs[l]>>shift&3) + int8(hm[l]>>hbit&1)*4 - 4
				q[32*k+l] = v
			}
		}
	}
}

func unpackQ2K(b []byte, u *kUnpacked) {
	b = b[:84]
	u.d, u.dmin, u.hasMin = f16At(b[80:]), f16At(b[82:]), true
	for s := 0; s < 16; s++ {
		u.sc[s] = int32(b[s] & 0xf)
		u.m[s] = int32(b[s] >> 4)
	}
	for h := 0; h < 2; h++ {
		qs := (*[32]byte)(b[16+32*h : 48+32*h])
		q := (*[128]int8)(u.q[128*h : 128*h+128])
		for k := 0; k < 4; k++ {
			shift := uint(2 * k)
			for l := 0; l < 32; l++ {
				q[32*k+l] = int8(qs[l] >> shift & 3)
			}
		}
	}
}

func unpackIQ4XS(b []byte, u *kUnpacked) {
	b = b[:136]
	u.d, u.dmin, u.hasMin = f16At(b), 0, false
	sh := binary.LittleEndian.Uint16(b[2:])
	for s := 0; s < 8; s++ {
		ls := int32(b[4+s/2]>>(4*(s%2)))&0xf | int32(sh>>(2*s)&3)<<4
		u.sc[2*s], u.sc[2*s+1] = ls-32, ls-32
		u.m[2*s], u.m[2*s+1] = 0, 0
		qs := (*[16]byte)(b[8+16*s : 24+16*s])
		q := (*[32]int8)(u.q[32*s : 32*s+32])
		for j := 0; j < 16; j++ {
			q[j] = kvaluesIQ4NL[qs[j]&0xf]
			q[j+16] = kvaluesIQ4NL[qs[j]>>4]
		}
	}
}

// dot16 is Σ q[i]·a[i] over 16 int8 pairs.
func dot16(q *[16]int8, a *[16]byte) int32 {
	return int32(q[0])*int32(int8(a[0])) + int32(q[1])*int32(int8(a[1])) +
		int32(q[2])*int32(int8(a[2])) + int32(q[3])*int32(int8(a[3])) +
		int32(q[4])*int32(int8(a[4])) + int32(q[5])*int32(int8(a[5])) +
		int32(q[6])*int32(int8(a[6])) + int32(q[7])*int32(int8(a[7])) +
		int32(q[8])*int32(int8(a[8])) + int32(q[9])*int32(int8(a[9])) +
		int32(q[10])*int32(int8(a[10])) + int32(q[11])*int32(int8(a[11])) +
		int32(q[12])*int32(int8(a[12])) + int32(q[13])*int32(int8(a[13])) +
		int32(q[14])*int32(int8(a[14])) + int32(q[15])*int32(int8(a[15]))
}

// kTileGo is the portable tile kernel of a super-block format: for r < nr
// and t < nt, y[t·ys + r] = Σ over blocks of the integer form above. It
// does the float arithmetic of the AVX2 kernel step for step (eight lanes,
// lane j holding elements 4j..4j+3 of every 32; fused multiply-adds), so
// both give the same results (up to rare double roundings of fma32). With
// reduce (Q6_K, Q3_K, whose assembly keeps unsigned quants, and Q4_K, whose
// packed GEMM keeps one lane per row) each super-block's sum is one exact
// integer S added in lane 0, then its min term M:
//
//	acc = fma(S, d·da, acc);  acc = fma(M, (−dmin)·da, acc)
func kTileGo(unpack kUnpackFunc, bpb int, reduce bool) tileFunc {
	return func(w []byte, wstride, nr int, a []byte, _ []float32, al *actLayout, nt int, y []float32, ys int) {
		kTile(unpack, bpb, reduce, w, wstride, nr, a, al, nt, y, ys)
	}
}

func kTile(unpack kUnpackFunc, bpb int, reduce bool, w []byte, wstride, nr int, a []byte, al *actLayout, nt int, y []float32, ys int) {
	{
		var u kUnpacked
		var acc [maxTileTokens][8]float32
		nb, cols, st := al.nb, al.cols, al.stride
		for r := 0; r < nr; r++ {
			row := w[r*wstride : r*wstride+nb*bpb]
			acc = [maxTileTokens][8]float32{}
			for ib := 0; ib < nb; ib++ {
				unpack(row[ib*bpb:ib*bpb+bpb], &u)
				for t := 0; t < nt; t++ {
					ar := a[t*st : t*st+st]
					aq := (*[256]byte)(ar[256*ib : 256*ib+256])
					ad := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*ib:]))
					var lanes [8]int32
					for e0 := 0; e0 < 256; e0 += 4 {
						s := u.sc[e0/16]
						lanes[e0%32/4] += s * (int32(u.q[e0])*int32(int8(aq[e0])) + int32(u.q[e0+1])*int32(int8(aq[e0+1])) +
							int32(u.q[e0+2])*int32(int8(aq[e0+2])) + int32(u.q[e0+3])*int32(int8(aq[e0+3])))
					}
					at := &acc[t]
					if reduce {
						var isum int32
						for _, l := range lanes {
							isum += l
						}
						at[0] = fma32(float32(isum), u.d*ad, at[0])
						if u.hasMin {
							bs := ar[cols+4*nb+32*ib : cols+4*nb+32*ib+32]
							var msum int32
							for s := 0; s < 16; s++ {
								msum += u.m[s] * int32(int16(binary.LittleEndian.Uint16(bs[2*s:])))
							}
							at[0] = fma32(float32(msum), -u.dmin*ad, at[0])
						}
						continue
					}
					if u.hasMin {
						bs := ar[cols+4*nb+32*ib : cols+4*nb+32*ib+32]
						dm := -u.dmin * ad
						for j := 0; j < 8; j++ {
							ml := u.m[2*j]*int32(int16(binary.LittleEndian.Uint16(bs[4*j:]))) +
								u.m[2*j+1]*int32(int16(binary.LittleEndian.Uint16(bs[4*j+2:])))
							at[j] = fma32(float32(ml), dm, at[j])
						}
					}
					dd := u.d * ad
					for j := 0; j < 8; j++ {
						at[j] = fma32(float32(lanes[j]), dd, at[j])
					}
				}
			}
			for t := 0; t < nt; t++ {
				y[t*ys+r] = hsum8(&acc[t])
			}
		}
	}
}

// fma32 is a·b+c rounded once to float64 and then to float32 (the same as a
// float32 fused multiply-add except in rare double-rounding cases).
func fma32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// hsum8 adds eight lanes in the assembly's order:
// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
func hsum8(a *[8]float32) float32 {
	s0, s1, s2, s3 := a[0]+a[4], a[1]+a[5], a[2]+a[6], a[3]+a[7]
	return (s0 + s2) + (s1 + s3)
}
