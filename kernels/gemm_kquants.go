package kernels

import (
	"encoding/binary"
	"math"
)

// Packed (r8) layouts of the super-block formats, per row group (8 rows)
// and super-block of 256 columns. "Vector" means 32 bytes whose 4-byte lane
// r belongs to row r.
//
// Q4_K (q4kGroupBytes):
//
//	[0 : 2048)     quants: vector (j, k) at 256j + 32k holds quants
//	               32j+4k .. 32j+4k+3 of each row, unsigned 0..15
//	[2048 : 2304)  scales: vector j at 2048 + 32j, lane r = int16 pair
//	               (sc_j, sc_j) of row r (6-bit sub-block scales)
//	[2304 : 2432)  mins: vector i at 2304 + 32i, lane r = int16 pair
//	               (m_2i, m_2i+1) of row r
//	[2432 : 2464)  d of the 8 rows, float32
//	[2464 : 2496)  −dmin of the 8 rows, float32
//
// For activation row t the super-block then gives, per row, the exact
// integers S = Σ_j sc_j·Σ q·a and M = Σ_j m_j·bsums32_j, and the output
// accumulates fma(S, d·da) then fma(M, (−dmin)·da), as kTile does with
// reduce.
const q4kGroupBytes = 2496

// packQ4K is the packFunc of Q4_K.
func packQ4K(w []byte, wstride, nr, nb int, dst []byte) {
	dst = dst[:nb*q4kGroupBytes]
	for b := 0; b < nb; b++ {
		p := dst[b*q4kGroupBytes : (b+1)*q4kGroupBytes]
		for r := 0; r < 8; r++ {
			if r >= nr {
				packZeroRow(p, r)
				continue
			}
			blk := w[r*wstride+b*144 : r*wstride+b*144+144]
			for j := 0; j < 8; j++ {
				sc, m := scaleMinK4(j, blk[4:16])
				binary.LittleEndian.PutUint32(p[2048+32*j+4*r:], uint32(sc)|uint32(sc)<<16)
				binary.LittleEndian.PutUint16(p[2304+32*(j/2)+4*r+2*(j%2):], uint16(m))
			}
			binary.LittleEndian.PutUint32(p[2432+4*r:], math.Float32bits(f16At(blk)))
			binary.LittleEndian.PutUint32(p[2464+4*r:], math.Float32bits(-f16At(blk[2:])))
			qs := blk[16:144]
			for c := 0; c < 4; c++ {
				lo := p[256*(2*c)+4*r:]
				hi := p[256*(2*c+1)+4*r:]
				for k := 0; k < 8; k++ {
					x := binary.LittleEndian.Uint32(qs[32*c+4*k:])
					binary.LittleEndian.PutUint32(lo[32*k:], x&0x0f0f0f0f)
					binary.LittleEndian.PutUint32(hi[32*k:], x>>4&0x0f0f0f0f)
				}
			}
		}
	}
}

// packZeroRow clears lane r of every vector of the packed block p.
func packZeroRow(p []byte, r int) {
	for v := 0; v+32 <= len(p); v += 32 {
		binary.LittleEndian.PutUint32(p[v+4*r:], 0)
	}
}

// q4kGemmGo is the portable packed kernel of Q4_K (see q4kGroupBytes).
func q4kGemmGo(p []byte, nb int, a []byte, al *actLayout, nt int, y []float32, ys int) {
	cols, st := al.cols, al.stride
	for t := 0; t < nt; t++ {
		ar := a[t*st : (t+1)*st]
		var acc [8]float32
		for b := 0; b < nb; b++ {
			pb := p[b*q4kGroupBytes : (b+1)*q4kGroupBytes]
			aq := ar[256*b : 256*b+256]
			da := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*b:]))
			b32 := ar[cols+36*nb+16*b : cols+36*nb+16*b+16]
			for r := 0; r < 8; r++ {
				var s int32
				for j := 0; j < 8; j++ {
					var u int32
					for k := 0; k < 8; k++ {
						q := pb[256*j+32*k+4*r : 256*j+32*k+4*r+4]
						e := aq[32*j+4*k : 32*j+4*k+4]
						u += int32(q[0])*int32(int8(e[0])) + int32(q[1])*int32(int8(e[1])) +
							int32(q[2])*int32(int8(e[2])) + int32(q[3])*int32(int8(e[3]))
					}
					s += int32(int16(binary.LittleEndian.Uint16(pb[2048+32*j+4*r:]))) * u
				}
				var m int32
				for i := 0; i < 4; i++ {
					mp := pb[2304+32*i+4*r:]
					m += int32(int16(binary.LittleEndian.Uint16(mp)))*int32(int16(binary.LittleEndian.Uint16(b32[4*i:]))) +
						int32(int16(binary.LittleEndian.Uint16(mp[2:])))*int32(int16(binary.LittleEndian.Uint16(b32[4*i+2:])))
				}
				d := math.Float32frombits(binary.LittleEndian.Uint32(pb[2432+4*r:]))
				nd := math.Float32frombits(binary.LittleEndian.Uint32(pb[2464+4*r:]))
				acc[r] = fma32(float32(s), d*da, acc[r])
				acc[r] = fma32(float32(m), nd*da, acc[r])
			}
		}
		for r, v := range acc {
			y[t*ys+r] = v + 0 // as hsum8 of kTile (a −0 sum becomes +0)
		}
	}
}

// Q6_K (q6kGroupBytes):
//
//	[0 : 2048)     quants: vector (s, k) at 128s + 32k holds quants
//	               16s+4k .. 16s+4k+3 of each row, unsigned 0..63 (the
//	               stored value, offset 32)
//	[2048 : 2560)  scales: vector s at 2048 + 32s, lane r = int16 pair
//	               (sc_s, sc_s) of row r (int8 sub-block scales)
//	[2560 : 2816)  offsets: vector i at 2560 + 32i, lane r = int16 pair
//	               (32·sc_2i, 32·sc_2i+1) of row r
//	[2816 : 2848)  d of the 8 rows, float32
//
// Per row the super-block gives the exact S = Σ_s sc_s·Σ q·a − Σ_s
// 32·sc_s·bsums_s = Σ_s sc_s·Σ (q−32)·a, and the output accumulates
// fma(S, d·da), as kTile does with reduce.
const q6kGroupBytes = 2848

// packQ6K is the packFunc of Q6_K.
func packQ6K(w []byte, wstride, nr, nb int, dst []byte) {
	dst = dst[:nb*q6kGroupBytes]
	for b := 0; b < nb; b++ {
		p := dst[b*q6kGroupBytes : (b+1)*q6kGroupBytes]
		for r := 0; r < 8; r++ {
			if r >= nr {
				packZeroRow(p, r)
				continue
			}
			blk := w[r*wstride+b*210 : r*wstride+b*210+210]
			for s := 0; s < 16; s++ {
				sc := int16(int8(blk[192+s]))
				binary.LittleEndian.PutUint32(p[2048+32*s+4*r:], uint32(uint16(sc))|uint32(uint16(sc))<<16)
				binary.LittleEndian.PutUint16(p[2560+32*(s/2)+4*r+2*(s%2):], uint16(32*sc))
			}
			binary.LittleEndian.PutUint32(p[2816+4*r:], math.Float32bits(f16At(blk[208:])))
			// element 128h + 32kk + l (kk < 4, l < 32) is ql[64h + 32(kk%2) + l]'s
			// low (kk < 2) or high nibble, with bits 2kk..2kk+1 of qh[32h + l]
			for h := 0; h < 2; h++ {
				for kk := 0; kk < 4; kk++ {
					for l := 0; l < 32; l += 4 {
						x := binary.LittleEndian.Uint32(blk[64*h+32*(kk%2)+l:])
						if kk >= 2 {
							x >>= 4
						}
						hb := binary.LittleEndian.Uint32(blk[128+32*h+l:]) >> (2 * kk)
						v := x&0x0f0f0f0f | (hb&0x03030303)<<4
						e := 128*h + 32*kk + l // first of the 4 elements
						binary.LittleEndian.PutUint32(p[128*(e/16)+32*(e%16/4)+4*r:], v)
					}
				}
			}
		}
	}
}

// q6kGemmGo is the portable packed kernel of Q6_K (see q6kGroupBytes).
func q6kGemmGo(p []byte, nb int, a []byte, al *actLayout, nt int, y []float32, ys int) {
	cols, st := al.cols, al.stride
	for t := 0; t < nt; t++ {
		ar := a[t*st : (t+1)*st]
		var acc [8]float32
		for b := 0; b < nb; b++ {
			pb := p[b*q6kGroupBytes : (b+1)*q6kGroupBytes]
			aq := ar[256*b : 256*b+256]
			da := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*b:]))
			bs := ar[cols+4*nb+32*b : cols+4*nb+32*b+32]
			for r := 0; r < 8; r++ {
				var s int32
				for sb := 0; sb < 16; sb++ {
					var u int32
					for k := 0; k < 4; k++ {
						q := pb[128*sb+32*k+4*r : 128*sb+32*k+4*r+4]
						e := aq[16*sb+4*k : 16*sb+4*k+4]
						u += int32(q[0])*int32(int8(e[0])) + int32(q[1])*int32(int8(e[1])) +
							int32(q[2])*int32(int8(e[2])) + int32(q[3])*int32(int8(e[3]))
					}
					s += int32(int16(binary.LittleEndian.Uint16(pb[2048+32*sb+4*r:]))) * u
					off := int32(int16(binary.LittleEndian.Uint16(pb[2560+32*(sb/2)+4*r+2*(sb%2):])))
					s -= off * int32(int16(binary.LittleEndian.Uint16(bs[2*sb:])))
				}
				d := math.Float32frombits(binary.LittleEndian.Uint32(pb[2816+4*r:]))
				acc[r] = fma32(float32(s), d*da, acc[r])
			}
		}
		for r, v := range acc {
			y[t*ys+r] = v + 0 // as hsum8 of kTile (a −0 sum becomes +0)
		}
	}
}
