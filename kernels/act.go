package kernels

import (
	"encoding/binary"
	"math"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// Activations are converted once per MatMul into an internal row layout
// that holds exactly the values ggml's from_float produces
// (quant.QuantizeActivations) but is easier for the kernels to address:
//
//	actQ8_0, actQ8_1 (blocks of 32, nb = cols/32), one row:
//	  [0 : cols]              qs, int8 quants
//	  [cols : cols+4nb]       d, float32 (the fp16 scale, widened exactly)
//	  [cols+4nb : cols+8nb]   Q8_0: Σqs per block, int32 (for the offset of
//	                          Q4_0/Q5_0 quants); Q8_1: s, float32 (the fp16
//	                          d·Σqs, widened)
//	actQ8_K (blocks of 256, nb = cols/256), one row:
//	  [0 : cols]              qs, int8
//	  [cols : cols+4nb]       d, float32
//	  [cols+4nb : cols+36nb]  bsums, int16 [nb][16], sums of 16 quants
//	  [cols+36nb : cols+52nb] bsums32, int16 [nb][8], sums of 32 quants
//	                          (bsums[2j] + bsums[2j+1], for the GEMM
//	                          kernels' per-32 mins)
//
// Rows start at multiples of 64 bytes. Float activations (F32 weights, and
// F16/BF16 weights) stay float32: under PrecisionGGML they are first rounded
// to the weight's type, which makes every product the exact one ggml's
// f16×f16 / bf16×bf16 dot computes.
type actKind uint8

const (
	actF32   actKind = iota // x as is
	actF16R                 // x rounded to fp16, as float32
	actBF16R                // x rounded to bf16, as float32
	actQ8_0
	actQ8_1
	actQ8_K
)

// actLayout describes one converted activation matrix [n, cols].
type actLayout struct {
	kind   actKind
	cols   int
	nb     int // blocks per row (quantized kinds)
	stride int // bytes per row (quantized) or float32 per row (float kinds)
}

func actKindOf(w *Matrix, prec Precision) actKind {
	switch w.ActType(prec) {
	case dtype.F16:
		return actF16R
	case dtype.BF16:
		return actBF16R
	case dtype.Q8_0:
		return actQ8_0
	case dtype.Q8_1:
		return actQ8_1
	case dtype.Q8_K:
		return actQ8_K
	}
	return actF32
}

func newActLayout(k actKind, cols int) actLayout {
	l := actLayout{kind: k, cols: cols, stride: cols}
	switch k {
	case actQ8_0, actQ8_1:
		l.nb = cols / 32
		l.stride = cols + 8*l.nb
	case actQ8_K:
		l.nb = cols / 256
		l.stride = cols + 52*l.nb
	}
	if k >= actQ8_0 {
		l.stride = (l.stride + 63) &^ 63
	}
	return l
}

// quantizeAct converts one activation row x [cols] into dst (quantized kinds)
// or fdst (rounded float kinds).
func quantizeAct(k actKind, x []float32, dst []byte, fdst []float32) {
	switch k {
	case actQ8_0, actQ8_1:
		quantQ8Blocks(x, dst, k == actQ8_1)
	case actQ8_K:
		quantQ8K(x, dst)
		sums32(dst, len(x)/256, len(x))
	case actF16R:
		roundF16Row(x, fdst)
	case actBF16R:
		for i, v := range x {
			fdst[i] = quant.BF16ToF32(quant.F32ToBF16(v))
		}
	}
}

// quantQ8BlocksGo is ggml-cpu's quantize_row_q8_0 / quantize_row_q8_1 on x86
// (AVX path) into the internal layout: per block of 32, amax = max|x|,
// d = fp16(amax/127), q = round-half-even(x·127/amax) saturated to int8, and
// for Q8_1 s = fp16((amax/127)·Σq). Same values as quant.QuantizeActivations.
func quantQ8BlocksGo(x []float32, dst []byte, withSum bool) {
	cols := len(x)
	nb := cols / 32
	qs := dst[:cols]
	ds := dst[cols : cols+4*nb]
	for ib := 0; ib < nb; ib++ {
		xb := x[ib*32 : ib*32+32]
		var amax float32
		for _, v := range xb {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		q := qs[ib*32 : ib*32+32]
		var sum int32
		for j, v := range xb {
			r := roundEvenSat8(v * id)
			q[j] = byte(int8(r))
			sum += r
		}
		binary.LittleEndian.PutUint32(ds[4*ib:], math.Float32bits(f16Round(d)))
		if withSum {
			s := f16Round(d * float32(sum)) // from the unrounded d, as ggml
			binary.LittleEndian.PutUint32(dst[cols+4*nb+4*ib:], math.Float32bits(s))
		} else {
			binary.LittleEndian.PutUint32(dst[cols+4*nb+4*ib:], uint32(sum))
		}
	}
}

// quantQ8KGo is quantize_row_q8_K_ref into the internal layout: per block of
// 256, mx = the value of largest magnitude (first on ties),
// iscale = -127/mx, q = min(127, round-half-even(iscale·x)), d = 1/iscale,
// bsums = sums of 16 quants; an all-zero block gets d = 0, q = 0.
func quantQ8KGo(x []float32, dst []byte) {
	cols := len(x)
	nb := cols / 256
	for ib := 0; ib < nb; ib++ {
		xb := x[ib*256 : ib*256+256]
		q := dst[ib*256 : ib*256+256]
		bs := dst[cols+4*nb+32*ib : cols+4*nb+32*ib+32]
		var amax, mx float32
		for _, v := range xb {
			if a := abs32(v); a > amax {
				amax, mx = a, v
			}
		}
		if amax == 0 {
			clear(q)
			clear(bs)
			binary.LittleEndian.PutUint32(dst[cols+4*ib:], 0)
			continue
		}
		iscale := -127 / mx
		for j, v := range xb {
			q[j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for k := 0; k < 16; k++ {
			var s int32
			for _, b := range q[16*k : 16*k+16] {
				s += int32(int8(b))
			}
			binary.LittleEndian.PutUint16(bs[2*k:], uint16(int16(s)))
		}
		binary.LittleEndian.PutUint32(dst[cols+4*ib:], math.Float32bits(1/iscale))
	}
}

// sums32 fills the bsums32 of a quantized Q8_K row (nb blocks, cols
// values) from its bsums.
func sums32(dst []byte, nb, cols int) {
	bs := dst[cols+4*nb : cols+36*nb]
	b32 := dst[cols+36*nb : cols+52*nb]
	for i := 0; i < 8*nb; i++ {
		s := int16(binary.LittleEndian.Uint16(bs[4*i:])) + int16(binary.LittleEndian.Uint16(bs[4*i+2:]))
		binary.LittleEndian.PutUint16(b32[2*i:], uint16(s))
	}
}

// roundF16RowGo writes x rounded to the nearest fp16 value into dst.
func roundF16RowGo(x, dst []float32) {
	for i, v := range x {
		dst[i] = f16Table[quant.F32ToF16(v)]
	}
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

func f16Round(v float32) float32 { return f16Table[quant.F32ToF16(v)] }

// nearestInt is ggml's nearest_int: round half to even via the 1.5·2^23
// trick (valid for |f| < 2^22).
func nearestInt(f float32) int32 {
	v := f + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// roundEvenSat8 is _mm256_round_ps(nearest) + cvtps_epi32 + saturating packs
// to int8 (NaN and values below -128 give -128).
func roundEvenSat8(v float32) int32 {
	r := math.RoundToEven(float64(v))
	switch {
	case r != r || r < -128:
		return -128
	case r > 127:
		return 127
	}
	return int32(r)
}
