package kernels

import (
	"encoding/binary"
	"math"
)

// Packed (r8) layouts of the 32-element block formats, per row group (8
// rows) and block. "Vector" means 32 bytes whose 4-byte lane r belongs to
// row r; vector k holds quants 4k..4k+3 of each row.
//
// Q8_0 (q80GroupBytes): the quants are signed, so the kernels multiply
// |q| with the activations carrying q's sign (vpsignb) as the tile kernels
// do:
//
//	[0 : 256)    |q|, vectors k = 0..7
//	[256 : 512)  q, vectors k = 0..7
//	[512 : 544)  d of the 8 rows, float32
//
// Q5_0 (q50GroupBytes) and Q4_0 (q40GroupBytes): the stored unsigned
// values u = q + off (off 16 and 8), whose exact sum is corrected with the
// activation block sums (isum = Σ u·a − off·Σa):
//
//	[0 : 256)    u, vectors k = 0..7
//	[256 : 288)  d of the 8 rows, float32
//
// The outputs accumulate exactly as lTile does: block ib adds
// fma(isum, da·d) into lane ib%4 (the last nb%4 blocks into lane 0), and
// the result is ((lane0 + 0) + (lane2 + 0)) + ((lane1 + 0) + (lane3 + 0)).
const (
	q80GroupBytes = 544
	q50GroupBytes = 288
	q40GroupBytes = 288
)

// packQ8_0 is the packFunc of Q8_0 (|q| computed four bytes at a time:
// with s the sign bits moved to bit 0, |x| = (x ^ 0xff·s) + s per byte,
// and −128 gives 128 as vpabsb does).
func packQ8_0(w []byte, wstride, nr, nb int, dst []byte) {
	dst = dst[:nb*q80GroupBytes]
	for r := 0; r < 8; r++ {
		if r >= nr {
			for b := 0; b < nb; b++ {
				packZeroRow(dst[b*q80GroupBytes:(b+1)*q80GroupBytes], r)
			}
			continue
		}
		row := w[r*wstride : r*wstride+nb*34]
		for b := 0; b < nb; b++ {
			blk := row[34*b : 34*b+34]
			p := dst[b*q80GroupBytes : (b+1)*q80GroupBytes]
			for k := 0; k < 8; k++ {
				x := binary.LittleEndian.Uint32(blk[2+4*k:])
				sg := x >> 7 & 0x01010101
				binary.LittleEndian.PutUint32(p[32*k+4*r:], (x^(sg*0xff))+sg)
				binary.LittleEndian.PutUint32(p[256+32*k+4*r:], x)
			}
			binary.LittleEndian.PutUint32(p[512+4*r:], math.Float32bits(f16At(blk)))
		}
	}
}

// spread4 maps four bits to four bytes holding 0x10 where the bit is set.
var spread4 = func() (t [16]uint32) {
	for i := range t {
		for j := 0; j < 4; j++ {
			if i>>j&1 != 0 {
				t[i] |= 0x10 << (8 * j)
			}
		}
	}
	return t
}()

// packQ4_0 is the packFunc of Q4_0: the stored nibbles are q + 8.
func packQ4_0(w []byte, wstride, nr, nb int, dst []byte) {
	packNibbles(w, wstride, nr, nb, dst, 18, 2, false)
}

// packQ5_0 is the packFunc of Q5_0: the stored 5-bit values are q + 16.
func packQ5_0(w []byte, wstride, nr, nb int, dst []byte) {
	packNibbles(w, wstride, nr, nb, dst, 22, 6, true)
}

// packNibbles packs a format whose block (bpb bytes) holds the fp16 d at
// 0, with high5 the 32 fifth bits at 2, and 16 bytes of nibbles at qo
// (low nibbles: elements 0..15, high nibbles: 16..31).
func packNibbles(w []byte, wstride, nr, nb int, dst []byte, bpb, qo int, high5 bool) {
	dst = dst[:nb*q50GroupBytes]
	for r := 0; r < 8; r++ {
		if r >= nr {
			for b := 0; b < nb; b++ {
				packZeroRow(dst[b*q50GroupBytes:(b+1)*q50GroupBytes], r)
			}
			continue
		}
		row := w[r*wstride : r*wstride+nb*bpb]
		for b := 0; b < nb; b++ {
			blk := row[bpb*b : bpb*b+bpb]
			p := dst[b*q50GroupBytes : (b+1)*q50GroupBytes]
			var qh uint32
			if high5 {
				qh = binary.LittleEndian.Uint32(blk[2:])
			}
			for k := 0; k < 4; k++ {
				x := binary.LittleEndian.Uint32(blk[qo+4*k:])
				lo, hi := x&0x0f0f0f0f, x>>4&0x0f0f0f0f
				if high5 {
					lo |= spread4[qh>>(4*k)&15]
					hi |= spread4[qh>>(16+4*k)&15]
				}
				binary.LittleEndian.PutUint32(p[32*k+4*r:], lo)
				binary.LittleEndian.PutUint32(p[128+32*k+4*r:], hi)
			}
			binary.LittleEndian.PutUint32(p[256+4*r:], math.Float32bits(f16At(blk)))
		}
	}
}

// legacyGemmGo returns the portable packed kernel of a 32-element format:
// signed (Q8_0 layout) or unsigned with offset off.
func legacyGemmGo(signed bool, off int32) gemmFunc {
	gb := q50GroupBytes
	if signed {
		gb = q80GroupBytes
	}
	return func(p []byte, nb int, a []byte, al *actLayout, nt int, y []float32, ys int) {
		cols, st := al.cols, al.stride
		for t := 0; t < nt; t++ {
			ar := a[t*st : (t+1)*st]
			var acc [4][8]float32
			for ib := 0; ib < nb; ib++ {
				pb := p[ib*gb : (ib+1)*gb]
				aq := ar[32*ib : 32*ib+32]
				da := math.Float32frombits(binary.LittleEndian.Uint32(ar[cols+4*ib:]))
				asum := int32(binary.LittleEndian.Uint32(ar[cols+4*nb+4*ib:]))
				lane := ib % 4
				if ib >= nb&^3 {
					lane = 0
				}
				for r := 0; r < 8; r++ {
					var isum int32
					for k := 0; k < 8; k++ {
						for e := 0; e < 4; e++ {
							av := int32(int8(aq[4*k+e]))
							if signed {
								isum += int32(int8(pb[256+32*k+4*r+e])) * av
							} else {
								isum += int32(pb[32*k+4*r+e]) * av
							}
						}
					}
					isum -= off * asum
					d := math.Float32frombits(binary.LittleEndian.Uint32(pb[gb-32+4*r:]))
					acc[lane][r] = fma32(float32(isum), da*d, acc[lane][r])
				}
			}
			for r := 0; r < 8; r++ {
				// hsum8 of lTile, whose lanes 4..7 are zero
				y[t*ys+r] = ((acc[0][r] + 0) + (acc[2][r] + 0)) + ((acc[1][r] + 0) + (acc[3][r] + 0))
			}
		}
	}
}
