package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Kernels for the 32-element block formats. Blocks are processed four at
// a time: the four blocks' int16 pair sums are merged so that lane b of
// each 128-bit half holds (half of) block b's integer sum, then one
// conversion and one fused multiply-add with [dw_b·da_b] serve all four
// (ik_llama's layout for q8_0_x4). A tail of nb%4 blocks is done one at a
// time.

var (
	byte08  Mem // 32 × 0x08
	byte16  Mem // 32 × 0x10 (16)
	bitSel  Mem // bytes 1,2,4,...,128 repeated: bit j%8 of byte j
	byteIdx Mem // VPSHUFB control: byte j takes byte j/8
)

// lq describes one 32-element block format.
type lq struct {
	name   string
	twin   string
	bpb    int
	signed bool // values signed: maddubs(|v|, sign(a, v))
	offset int  // values stored unsigned with this offset: isum -= offset·Σa (Q8_0 sums)
	min    bool // Q4_1/Q5_1: + m·s per block
	wide   bool // pair sums too large to merge in int16
	// dOff, mOff: offsets of the fp16 d and m in a block
	dOff, mOff int
	// values returns the 32 values of the block at m: w unsigned (|v|
	// when signed) in a register and, when signed, where the signed
	// values are (a register spilled to vals, or the block itself).
	values func(l *lctx, blk Mem, b int) (w VecVirtual, v Mem)
}

type lctx struct {
	vals Mem // stack [4] ymm for signed values
}

func legacyKernels() {
	byte08 = bytesConst("byte08", 32, func(int) byte { return 8 })
	byte16 = bytesConst("byte16", 32, func(int) byte { return 16 })
	bitSel = bytesConst("bitsel", 32, func(i int) byte { return 1 << (i % 8) })
	byteIdx = bytesConst("byteidx", 32, func(i int) byte { return byte(i / 8) })
	for _, q := range []lq{q8_0(), q4_0(), q5_0(), q4_1(), q5_1(), iq4NL()} {
		maxT := 4
		if q.name == "iq4nl" {
			maxT = 2 // more rows need more than 16 vector registers
		}
		for T := 1; T <= maxT; T++ {
			lKernel(q, T)
		}
	}
}

// nibbles16 loads the 16 bytes at m and returns [low nibbles | high nibbles]
// as 32 bytes (elements 0..15 then 16..31 of a legacy block).
func nibbles16(m Mem) VecVirtual {
	b := YMM()
	VBROADCASTI128(m, b)
	hi := YMM()
	VPSRLW(U8(4), b, hi)
	VPBLENDD(U8(0xf0), hi, b, b)
	VPAND(mask0F, b, b)
	return b
}

// highBits returns 0x10 in byte j where bit j of the uint32 at m is set.
func highBits(m Mem) VecVirtual {
	h := YMM()
	VPBROADCASTD(m, h)
	VPSHUFB(byteIdx, h, h)
	sel := YMM()
	VMOVDQU(bitSel, sel)
	VPAND(sel, h, h)
	VPCMPEQB(sel, h, h)
	VPAND(byte16, h, h)
	return h
}

// signedVals spills v to vals[b] and returns |v|.
func signedVals(l *lctx, v VecVirtual, b int) (VecVirtual, Mem) {
	m := l.vals.Offset(32 * b)
	VMOVDQU(v, m)
	VPABSB(v, v)
	return v, m
}

func q8_0() lq {
	return lq{name: "q80", twin: "lTileGo(unpackQ8_0)", bpb: 34, signed: true, wide: true, dOff: 0,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			w := YMM()
			VPABSB(blk.Offset(2), w)
			return w, blk.Offset(2)
		}}
}

func q4_0() lq {
	return lq{name: "q40", twin: "lTileGo(unpackQ4_0)", bpb: 18, offset: 8, dOff: 0,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			return nibbles16(blk.Offset(2)), Mem{}
		}}
}

func q5_0() lq {
	return lq{name: "q50", twin: "lTileGo(unpackQ5_0)", bpb: 22, offset: 16, dOff: 0,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			v := nibbles16(blk.Offset(6))
			VPOR(highBits(blk.Offset(2)), v, v)
			return v, Mem{}
		}}
}

func q4_1() lq {
	return lq{name: "q41", twin: "lTileGo(unpackQ4_1)", bpb: 20, min: true, dOff: 0, mOff: 2,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			return nibbles16(blk.Offset(4)), Mem{}
		}}
}

func q5_1() lq {
	return lq{name: "q51", twin: "lTileGo(unpackQ5_1)", bpb: 24, min: true, dOff: 0, mOff: 2,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			v := nibbles16(blk.Offset(8))
			VPOR(highBits(blk.Offset(4)), v, v)
			return v, Mem{}
		}}
}

func iq4NL() lq {
	return lq{name: "iq4nl", twin: "lTileGo(unpackIQ4NL)", bpb: 18, signed: true, wide: true, dOff: 0,
		values: func(l *lctx, blk Mem, b int) (VecVirtual, Mem) {
			abs, v := iq4Unit(blk.Offset(2))
			m := l.vals.Offset(32 * b)
			VMOVDQU(v, m)
			return abs, m
		}}
}

// gatherF16x4 returns the four fp16 values at m + k·stride (k < 4) as
// float32 in both halves of a ymm.
func gatherF16x4(m Mem, stride int) VecVirtual {
	r := GP32()
	x := XMM()
	MOVWLZX(m, r)
	VMOVD(r, x)
	for k := 1; k < 4; k++ {
		VPINSRW(U8(k), m.Offset(k*stride), x, x)
	}
	q := YMM()
	VPBROADCASTQ(x, q)
	y := YMM()
	VCVTPH2PS(q.AsX(), y)
	return y
}

func lKernel(q lq, T int) {
	name := fmt.Sprintf("%sT%d", q.name, T)
	TEXT(name, NOSPLIT, "func(w *byte, wstride, nr uintptr, a *byte, astride, nb uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	act := "Q8_0"
	if q.min {
		act = "Q8_1"
	}
	Doc(fmt.Sprintf("%s is the AVX2 form of %s for %d activation row(s): for r < nr", name, q.twin, T),
		"and t < "+fmt.Sprint(T)+", y[t·ys + r] = the dot product of weight row r (nb blocks of",
		fmt.Sprintf("%d bytes at w + r·wstride) with activation row t (internal %s layout at", q.bpb, act),
		"a + t·astride), with exact int32 block sums.")
	l := &lctx{vals: AllocLocal(4 * 32)}
	dw4 := AllocLocal(32)
	m4 := AllocLocal(32)
	wrow := AllocLocal(8)
	yrow := AllocLocal(8)
	rcnt := AllocLocal(8)
	MOVQ(Load(Param("w"), GP64()), wrow)
	MOVQ(Load(Param("y"), GP64()), yrow)
	MOVQ(Load(Param("nr"), GP64()), rcnt)

	Label(name + "_row")
	acc := make([]VecVirtual, T)
	for t := range acc {
		acc[t] = YMM()
		VXORPS(acc[t], acc[t], acc[t])
	}
	w := GP64()
	MOVQ(wrow, w)
	p, s, nb := GP64(), GP64(), GP64()
	Load(Param("a"), p)
	Load(Param("astride"), s)
	Load(Param("nb"), nb)
	d := GP64()
	MOVQ(nb, d)
	SHLQ(U8(5), d)
	ADDQ(p, d) // d: activation scales; s-values follow at d + 4nb
	sv := GP64()
	LEAQ(Mem{Base: d, Index: nb, Scale: 4}, sv)
	var s3 GPVirtual
	if T == 4 {
		s3 = GP64()
		LEAQ(Mem{Base: s, Index: s, Scale: 2}, s3)
	}
	at := func(base GPVirtual, t int, disp int) Mem {
		switch t {
		case 0:
			return Mem{Base: base, Disp: disp}
		case 1:
			return Mem{Base: base, Index: s, Scale: 1, Disp: disp}
		case 2:
			return Mem{Base: base, Index: s, Scale: 2, Disp: disp}
		}
		return Mem{Base: base, Index: s3, Scale: 1, Disp: disp}
	}
	cnt := GP64()
	MOVQ(nb, cnt)
	SHRQ(U8(2), cnt)
	JZ(LabelRef(name + "_tail"))

	Label(name + "_g4")
	if T == 1 {
		for o := 0; o < 4*q.bpb; o += 64 {
			PREFETCHT0(Mem{Base: w, Disp: prefetchDist + o})
		}
	}
	ws := make([]VecVirtual, 4)
	vs := make([]Mem, 4)
	for b := 0; b < 4; b++ {
		ws[b], vs[b] = q.values(l, Mem{Base: w, Disp: b * q.bpb}, b)
	}
	VMOVUPS(gatherF16x4(Mem{Base: w, Disp: q.dOff}, q.bpb), dw4)
	if q.min {
		mm := gatherF16x4(Mem{Base: w, Disp: q.mOff}, q.bpb)
		VMOVUPS(mm, m4)
	}
	for t := 0; t < T; t++ {
		prod := func(b int) VecVirtual {
			pb := YMM()
			if q.signed {
				VMOVDQU(at(p, t, 32*b), pb)
				VPSIGNB(vs[b], pb, pb)
				VPMADDUBSW(pb, ws[b], pb)
			} else {
				VPMADDUBSW(at(p, t, 32*b), ws[b], pb)
			}
			if q.wide {
				VPMADDWD(ones16, pb, pb)
			}
			return pb
		}
		sum := merge4(prod, q.wide)
		if !q.wide {
			VPMADDWD(ones16, sum, sum)
		}
		// the two halves' lanes b add up to block b's exact integer sum
		x := XMM()
		VEXTRACTI128(U8(1), sum, x)
		VPADDD(x, sum.AsX(), x)
		if q.offset != 0 {
			o := XMM()
			VMOVDQU(at(sv, t, 0), o)
			VPSLLD(U8(log2(q.offset)), o, o)
			VPSUBD(o, x, x)
		}
		VCVTDQ2PS(x, x)
		sc := XMM()
		VMOVUPS(at(d, t, 0), sc)
		VMULPS(dw4, sc, sc)
		VFMADD231PS(x, sc, acc[t].AsX())
		if q.min {
			sx := XMM()
			VMOVUPS(at(sv, t, 0), sx)
			VFMADD231PS(m4, sx, acc[t].AsX())
		}
	}
	ADDQ(U32(4*q.bpb), w)
	ADDQ(U32(128), p)
	ADDQ(U32(16), d)
	ADDQ(U32(16), sv)
	DECQ(cnt)
	JNZ(LabelRef(name + "_g4"))

	Label(name + "_tail")
	ANDQ(U8(3), nb)
	JZ(LabelRef(name + "_store"))
	Label(name + "_t1")
	w1, v1 := q.values(l, Mem{Base: w}, 0)
	dw := broadcastF16(Mem{Base: w, Disp: q.dOff})
	var mv VecVirtual
	if q.min {
		mv = XMM()
		VPBROADCASTW(Mem{Base: w, Disp: q.mOff}, mv)
		VCVTPH2PS(mv, mv)
	}
	for t := 0; t < T; t++ {
		pt := YMM()
		if q.signed {
			VMOVDQU(at(p, t, 0), pt)
			VPSIGNB(v1, pt, pt)
			VPMADDUBSW(pt, w1, pt)
		} else {
			VPMADDUBSW(at(p, t, 0), w1, pt)
		}
		VPMADDWD(ones16, pt, pt)
		x := reduceI32(pt)
		if q.offset != 0 {
			o := XMM()
			VMOVD(at(sv, t, 0), o)
			VPSLLD(U8(log2(q.offset)), o, o)
			VPSUBD(o, x, x)
		}
		VCVTDQ2PS(x, x)
		ds := XMM()
		VMOVSS(at(d, t, 0), ds)
		VMULSS(dw.AsX(), ds, ds)
		VFMADD231SS(x, ds, acc[t].AsX())
		if q.min {
			sx := XMM()
			VMOVSS(at(sv, t, 0), sx)
			VFMADD231SS(mv, sx, acc[t].AsX())
		}
	}
	ADDQ(U32(q.bpb), w)
	ADDQ(U32(32), p)
	ADDQ(U32(4), d)
	ADDQ(U32(4), sv)
	DECQ(nb)
	JNZ(LabelRef(name + "_t1"))

	Label(name + "_store")
	storeRowSums(name, acc, yrow, wrow, rcnt)
	VZEROUPPER()
	RET()
}

// merge4 adds the four products prod(0..3) so that 32-bit lane b of each
// 128-bit half holds part of the sum of prod(b) (ik_llama's unpack/add
// reduction); with wide the lanes are int32, else int16 pairs (still to be
// widened by VPMADDWD with ones). Products are generated pairwise to keep
// few registers live.
func merge4(prod func(b int) VecVirtual, wide bool) VecVirtual {
	add := VPADDW
	if wide {
		add = VPADDD
	}
	pair := func(b int) VecVirtual {
		p0 := prod(b)
		p1 := prod(b + 1)
		t := YMM()
		VPUNPCKLDQ(p1, p0, t)
		VPUNPCKHDQ(p1, p0, p0)
		add(p0, t, t)
		return t
	}
	t0 := pair(0)
	t2 := pair(2)
	u0 := YMM()
	VPUNPCKLQDQ(t2, t0, u0)
	VPUNPCKHQDQ(t2, t0, t0)
	add(t0, u0, u0)
	return u0
}

func log2(n int) int {
	k := 0
	for 1<<k < n {
		k++
	}
	return k
}
