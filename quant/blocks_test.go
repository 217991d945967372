package quant

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// Hand-built blocks. Each block is assembled byte by byte from the struct
// layout in ggml-common.h; the expected values were worked out from ggml's
// dequantize_row_* loops (not from this package) for a few elements spread
// over sub-blocks, nibble halves and high-bit planes, so a wrong bit layout
// fails loudly.

// seq returns n bytes (i*a + b) mod 256: varied bit patterns in every position.
func seq(n, a, b int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(i*a + b)
	}
	return s
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

const (
	h025  = 0x3400 // fp16 0.25
	h05   = 0x3800 // fp16 0.5
	h1    = 0x3c00 // fp16 1
	h2    = 0x4000 // fp16 2
	hNeg1 = 0xbc00 // fp16 -1
)

type handCase struct {
	typ   dtype.Type
	block []byte
	want  map[int]float32
}

func handCases() []handCase {
	nib := make([]byte, 16) // element i: low nibble i, element 16+i: high nibble 15-i
	for i := range nib {
		nib[i] = byte(i) | byte(15-i)<<4
	}
	qh5 := binary.LittleEndian.AppendUint32(nil, 0x80000001|1<<17) // bit 4 set for elements 0, 17, 31
	q8 := make([]byte, 32)
	for j := range q8 {
		q8[j] = byte(int8(j*8 - 128))
	}
	q8k := make([]byte, 256)
	for j := range q8k {
		q8k[j] = byte(int8(j - 128))
	}
	// Q4_K/Q5_K: scales {1,2,3,4,17,33,50,63}, mins {0,5,10,15,20,40,60,63} packed 6-bit
	k4scales := []byte{0x41, 0x82, 0xc3, 0xc4, 0x40, 0x85, 0xca, 0xcf, 0x41, 0x81, 0xc2, 0xff}
	// Q2_K: sub-block s has scale s and min 15-s
	q2scales := make([]byte, 16)
	for s := range q2scales {
		q2scales[s] = byte(s) | byte(15-s)<<4
	}
	// Q3_K: 6-bit scales {0,1,31,32,33,63,10,20,40,50,5,15,25,35,45,55} packed
	q3scales := []byte{0x80, 0x21, 0x5f, 0xf0, 0x91, 0x3f, 0xda, 0x74, 0x68, 0xbc, 0x81, 0xc6}
	q6scales := []byte{1, 0xff, 2, 0xfe, 3, 0xfd, 4, 0xfc, 5, 0xfb, 6, 0xfa, 7, 0xf9, 127, 0x80}
	return []handCase{
		{dtype.Q4_0, cat(le16(h05), nib), map[int]float32{0: -4, 15: 3.5, 16: 3.5, 20: 1.5, 31: -4}},
		{dtype.Q4_1, cat(le16(h05), le16(hNeg1), nib), map[int]float32{0: -1, 15: 6.5, 16: 6.5, 20: 4.5, 31: -1}},
		{dtype.Q5_0, cat(le16(h025), qh5, nib), map[int]float32{0: 0, 1: -3.75, 16: -0.25, 17: 3.5, 31: 0}},
		{dtype.Q5_1, cat(le16(h025), le16(h1), qh5, nib), map[int]float32{0: 5, 1: 1.25, 16: 4.75, 17: 8.5, 31: 5}},
		{dtype.Q8_0, cat(le16(h2), q8), map[int]float32{0: -256, 16: 0, 31: 240}},
		{dtype.Q8_1, cat(le16(h2), le16(0x1234), q8), map[int]float32{0: -256, 16: 0, 31: 240}},
		{dtype.Q8_K, cat(binary.LittleEndian.AppendUint32(nil, math.Float32bits(0.5)), q8k, make([]byte, 32)),
			map[int]float32{0: -64, 128: 0, 255: 63.5}},
		{dtype.Q2_K, cat(q2scales, seq(64, 37, 11), le16(h1), le16(h05)),
			map[int]float32{0: -7.5, 1: -7.5, 17: -7, 31: -5, 33: -6.5, 45: -0.5, 90: -5, 130: 4.5, 180: 31, 200: 10.5, 250: 15, 255: 0}},
		{dtype.Q3_K, cat(seq(32, 7, 3), seq(64, 37, 11), q3scales, le16(h05)),
			map[int]float32{0: -48, 1: 64, 17: 62, 31: 31, 33: 0, 45: -1.5, 90: -62, 130: 4, 180: 8.5, 200: 10.5, 250: 11.5, 255: 0}},
		{dtype.Q4_K, cat(le16(h1), le16(h05), k4scales, seq(128, 37, 11)),
			map[int]float32{0: 11, 1: 0, 17: 0, 31: 6, 33: 3.5, 45: 25.5, 90: 34, 130: 75, 180: 46, 200: 120, 250: 598.5, 255: 346.5}},
		{dtype.Q5_K, cat(le16(h1), le16(h05), k4scales, seq(32, 5, 1), seq(128, 37, 11)),
			map[int]float32{0: 27, 1: 0, 17: 0, 31: 6, 33: 35.5, 45: 57.5, 90: 34, 130: 75, 180: 574, 200: 120, 250: 1606.5, 255: 1354.5}},
		{dtype.Q6_K, cat(seq(128, 37, 11), seq(64, 13, 7), q6scales, le16(h025)),
			map[int]float32{0: 6.75, 1: -8, 17: 8, 31: -1.5, 33: -8, 45: -10, 90: 3, 130: -13.75, 180: -22.5, 200: -43.75, 250: -832, 255: 832}},
		{dtype.IQ4_NL, cat(le16(h05), seq(16, 37, 11)), map[int]float32{0: 19, 1: -63.5, 7: 44.5, 15: -11, 16: -63.5, 23: -63.5, 31: -32.5}},
		{dtype.IQ4_XS, cat(le16(h025), le16(0b1110010011100100), []byte{0x10, 0x2f, 0xa5, 0x7c}, seq(128, 37, 11)),
			map[int]float32{0: -304, 1: 1016, 17: 520, 31: 520, 33: 476.25, 45: -198.75, 90: -390, 130: 236.25, 180: 124.5, 200: -195, 250: 143.75, 255: -126.5}},
	}
}

func TestHandBuiltBlocks(t *testing.T) {
	for _, c := range handCases() {
		if len(c.block) != c.typ.BlockBytes() {
			t.Fatalf("%v: test block has %d bytes, format has %d", c.typ, len(c.block), c.typ.BlockBytes())
		}
		y := mustDequant(t, c.typ, c.block, c.typ.BlockSize())
		for i, w := range c.want {
			if y[i] != w {
				t.Errorf("%v element %d = %v, want %v", c.typ, i, y[i], w)
			}
		}
	}
}

// handActivation builds one activation block of type at with d = 1 and quants
// (j%7)-3, so that every dot product below is a sum of small dyadic numbers,
// exact in float32.
func handActivation(at dtype.Type, n int) []byte {
	var out []byte
	for ib := 0; ib < n/at.BlockSize(); ib++ {
		qs := make([]byte, at.BlockSize())
		sum := 0
		for j := range qs {
			q := j%7 - 3
			qs[j] = byte(int8(q))
			sum += q
		}
		switch at {
		case dtype.Q8_0:
			out = cat(out, le16(h1), qs)
		case dtype.Q8_1:
			out = cat(out, le16(h1), le16(F32ToF16(float32(sum))), qs)
		case dtype.Q8_K:
			bs := make([]byte, 32)
			for k := 0; k < 16; k++ {
				s := 0
				for j := 16 * k; j < 16*k+16; j++ {
					s += int(int8(qs[j]))
				}
				binary.LittleEndian.PutUint16(bs[2*k:], uint16(int16(s)))
			}
			out = cat(out, binary.LittleEndian.AppendUint32(nil, math.Float32bits(1)), qs, bs)
		}
	}
	return out
}

// TestHandBuiltVecDot checks VecDot on the hand-built weight blocks against
// the plain sum of dequantized products (exact here), which also checks the
// mins/bsums terms of Q4_1/Q5_1/Q2_K/Q4_K/Q5_K.
func TestHandBuiltVecDot(t *testing.T) {
	for _, c := range handCases() {
		if !Supported(c.typ) {
			continue
		}
		n := c.typ.BlockSize()
		at := VecDotType(c.typ)
		a := handActivation(at, n)
		w := mustDequant(t, c.typ, c.block, n)
		x := mustDequant(t, at, a, n)
		want := dot64(w, x)
		got, err := VecDot(c.typ, n, c.block, a)
		if err != nil {
			t.Fatal(err)
		}
		if float64(got) != want {
			t.Errorf("%v: VecDot = %v, want %v", c.typ, got, want)
		}
	}
}
