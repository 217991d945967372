package kernels

import (
	"encoding/binary"
	"math"
)

// Portable kernels for float weights (F32, F16, BF16) against float32
// activations. A chunk of up to 256 weights is widened to float32 once and
// dotted with every activation row of the tile; sums are float32 in four
// interleaved partial sums (ggml's F16/BF16 dot accumulates in float32 too,
// its scalar reference quant.VecDot in float64).

const floatChunk = 256

type widenFunc func(src []byte, dst []float32)

func widenF32(src []byte, dst []float32) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func widenF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = f16Table[uint16(src[2*i])|uint16(src[2*i+1])<<8]
	}
}

func widenBF16(src []byte, dst []float32) {
	src = src[:2*len(dst)]
	for i := range dst {
		dst[i] = math.Float32frombits((uint32(src[2*i]) | uint32(src[2*i+1])<<8) << 16)
	}
}

// floatTileGo is the portable tile kernel of a float format of esize bytes
// per element. Like the AVX2 kernel each token keeps 16 lanes (element e
// of every 16 in lane e%16) updated by fused multiply-adds, folded as
// lanes 0..7 + lanes 8..15 then hsum8; columns past the last multiple of 16
// are added afterwards by dotF32Go. Both give the same results up to rare
// double roundings of fma32.
func floatTileGo(widen widenFunc, esize int) tileFunc {
	return func(w []byte, wstride, nr int, _ []byte, x []float32, al *actLayout, nt int, y []float32, ys int) {
		floatTile(widen, esize, w, wstride, nr, x, al, nt, y, ys)
	}
}

func floatTile(widen widenFunc, esize int, w []byte, wstride, nr int, x []float32, al *actLayout, nt int, y []float32, ys int) {
	{
		var buf [floatChunk]float32
		var acc [maxTileTokens][16]float32
		cols, xs := al.cols, al.stride
		c16 := cols &^ 15
		for r := 0; r < nr; r++ {
			row := w[r*wstride : r*wstride+cols*esize]
			acc = [maxTileTokens][16]float32{}
			for c0 := 0; c0 < c16; c0 += floatChunk {
				c1 := min(c16, c0+floatChunk)
				wv := buf[:c1-c0]
				widen(row[c0*esize:c1*esize], wv)
				for t := 0; t < nt; t++ {
					xv := x[t*xs+c0 : t*xs+c1]
					fmaLanes16(&acc[t], wv, xv)
				}
			}
			for t := 0; t < nt; t++ {
				var s [8]float32
				for l := 0; l < 8; l++ {
					s[l] = acc[t][l] + acc[t][l+8]
				}
				y[t*ys+r] = hsum8(&s)
			}
			if c16 < cols {
				tail := buf[:cols-c16]
				widen(row[c16*esize:cols*esize], tail)
				for t := 0; t < nt; t++ {
					y[t*ys+r] += dotF32Go(tail, x[t*xs+c16:t*xs+cols])
				}
			}
		}
	}
}

// fmaLanes16 does acc[l] = fma(w[i+l], x[i+l], acc[l]) over 16-element
// steps of w (len(w) a multiple of 16, x at least as long).
func fmaLanes16(acc *[16]float32, w, x []float32) {
	x = x[:len(w)]
	for i := 0; i+16 <= len(w); i += 16 {
		wv := (*[16]float32)(w[i : i+16])
		xv := (*[16]float32)(x[i : i+16])
		for l := 0; l < 16; l++ {
			acc[l] = fma32(wv[l], xv[l], acc[l])
		}
	}
}

// dotF32Go is Σ a[i]·b[i] in four interleaved float32 partial sums.
func dotF32Go(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
