package kernels

import (
	"encoding/binary"
	"math"
)

// Portable kernels for the 32-element block formats (Q8_0, Q4_0, Q5_0,
// IQ4_NL against Q8_0 activations; Q4_1, Q5_1 against Q8_1). Per block the
// integer sum Σ q·a is exact; then, as ggml_vec_dot_<t>_q8_0/q8_1,
//
//	dot += dw·da·Σq·a            (symmetric formats, q signed)
//	dot += dw·da·Σq·a + mw·sa    (Q4_1, Q5_1: q unsigned, sa = fp16(da·Σa))

// lUnpacked is one decoded 32-element block.
type lUnpacked struct {
	q      [32]int8
	d, m   float32
	hasMin bool
}

type lUnpackFunc func(b []byte, u *lUnpacked)

func unpackQ8_0(b []byte, u *lUnpacked) {
	b = b[:34]
	u.d = f16At(b)
	for j := 0; j < 32; j++ {
		u.q[j] = int8(b[2+j])
	}
}

func unpackQ4_0(b []byte, u *lUnpacked) {
	b = b[:18]
	u.d = f16At(b)
	qs := (*[16]byte)(b[2:18])
	for j := 0; j < 16; j++ {
		u.q[j] = int8(qs[j]&0xf) - 8
		u.q[j+16] = int8(qs[j]>>4) - 8
	}
}

func unpackQ4_1(b []byte, u *lUnpacked) {
	b = b[:20]
	u.d, u.m, u.hasMin = f16At(b), f16At(b[2:]), true
	qs := (*[16]byte)(b[4:20])
	for j := 0; j < 16; j++ {
		u.q[j] = int8(qs[j] & 0xf)
		u.q[j+16] = int8(qs[j] >> 4)
	}
}

func unpackQ5_0(b []byte, u *lUnpacked) {
	b = b[:22]
	u.d = f16At(b)
	qh := binary.LittleEndian.Uint32(b[2:])
	qs := (*[16]byte)(b[6:22])
	for j := 0; j < 16; j++ {
		u.q[j] = int8(qs[j]&0xf|byte(qh>>j&1)<<4) - 16
		u.q[j+16] = int8(qs[j]>>4|byte(qh>>(j+16)&1)<<4) - 16
	}
}

func unpackQ5_1(b []byte, u *lUnpacked) {
	b = b[:24]
	u.d, u.m, u.hasMin = f16At(b), f16At(b[2:]), true
	qh := binary.LittleEndian.Uint32(b[4:])
	qs := (*[16]byte)(b[8:24])
	for j := 0; j < 16; j++ {
		u.q[j] = int8(qs[j]&0xf | byte(qh>>j&1)<<4)
		u.q[j+16] = int8(qs[j]>>4 | byte(qh>>(j+16)&1)<<4)
	}
}

func unpackIQ4NL(b []byte, u *lUnpacked) {
	b = b[:18]
	u.d = f16At(b)
	qs := (*[16]byte)(b[2:18])
	for j := 0; j < 16; j++ {
		u.q[j] = kvaluesIQ4NL[qs[j]&0xf]
		u.q[j+16] = kvaluesIQ4NL[qs[j]>>4]
	}
}

// dot32 is Σ q[i]·a[i] over 32 int8 pairs.
func dot32(q *[32]int8, a *[32]byte) int32 {
	return dot16((*[16]int8)(q[:16]), (*[16]byte)(a[:16])) + dot16((*[16]int8)(q[16:]), (*[16]byte)(a[16:]))
}

// lTileGo is the portable tile kernel of a 32-element block format. Like
// the AVX2 kernel, blocks are taken four at a time, block 4g+b adding into
// lane b, a remaining nb%4 blocks into lane 0, with fused multiply-adds, so
// both give the same results (up to rare double roundings of fma32).
func lTileGo(unpack lUnpackFunc, bpb int) tileFunc {
	return func(w []byte, wstride, nr int, a []byte, _ []float32, al *actLayout, nt int, y []float32, ys int) {
		lTile(unpack, bpb, w, wstride, nr, a, al, nt, y, ys)
	}
}

func lTile(unpack lUnpackFunc, bpb int, w []byte, wstride, nr int, a []byte, al *actLayout, nt int, y []float32, ys int) {
	{
		var u lUnpacked
		var acc [maxTileTokens][8]float32
		nb, cols, st := al.nb, al.cols, al.stride
		for r := 0; r < nr; r++ {
			row := w[r*wstride : r*wstride+nb*bpb]
			acc = [maxTileTokens][8]float32{}
			for ib := 0; ib < nb; ib++ {
				unpack(row[ib*bpb:ib*bpb+bpb], &u)
				lane := ib % 4
				if ib >= nb&^3 {
					lane = 0
				}
				for t := 0; t < nt; t++ {
					ar := a[t*st : t*st+st]
					isum := dot32(&u.q, (*[32]byte)(ar[32*ib:32*ib+32]))
					da := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*ib:]))
					at := &acc[t]
					at[lane] = fma32(float32(isum), da*u.d, at[lane])
					if u.hasMin {
						s := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*nb+4*ib:]))
						at[lane] = fma32(s, u.m, at[lane])
					}
				}
			}
			for t := 0; t < nt; t++ {
				y[t*ys+r] = hsum8(&acc[t])
			}
		}
	}
}
