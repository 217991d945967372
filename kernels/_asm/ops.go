package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

var (
	f32m127 Mem // float32 -127
	f32p127 Mem // float32 127
	f32one  Mem // float32 1
	permQ   Mem // VPERMD index 0,4,1,5,2,6,3,7 (undo the lane split of the packs)
)

func f32Const(name string, v uint32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	DATA(0, U32(v))
	return m
}

func vectorOps() {
	TEXT("spinPause", NOSPLIT, "func()")
	Doc("spinPause is a PAUSE instruction, the spin-wait hint (Go twin: an empty function).")
	PAUSE()
	RET()

	sumBytes()
	dotF32()
	axpyF32()
	expConstants()
	swigluF32()
	expSumF32()
	f16Widen()
	f16Narrow()
	sumSquaresF32()
	scaleMulF32()
}

// sumBytes: Σ of uint64 words, 256 bytes per iteration.
func sumBytes() {
	TEXT("sumBytesAVX2", NOSPLIT, "func(p *byte, n uintptr) uint64")
	Pragma("noescape")
	Doc("sumBytesAVX2 is sumBytesGo for the n bytes at p (n a positive multiple of 256).")
	p := Load(Param("p"), GP64())
	n := Load(Param("n"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VPXOR(acc[i], acc[i], acc[i])
	}
	Label("sum_loop")
	for i := 0; i < 8; i++ {
		VPADDQ(Mem{Base: p, Disp: 32 * i}, acc[i%4], acc[i%4])
	}
	ADDQ(U32(256), p)
	SUBQ(U32(256), n)
	JNZ(LabelRef("sum_loop"))
	VPADDQ(acc[1], acc[0], acc[0])
	VPADDQ(acc[3], acc[2], acc[2])
	VPADDQ(acc[2], acc[0], acc[0])
	hi := XMM()
	VEXTRACTI128(U8(1), acc[0], hi)
	VPADDQ(hi, acc[0].AsX(), hi)
	r, r2 := GP64(), GP64()
	VMOVQ(hi, r)
	VPEXTRQ(U8(1), hi, r2)
	ADDQ(r2, r)
	Store(r, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// dotF32: Σ a·b over n (a multiple of 8) floats: 4 accumulators over
// 32-element steps, then 8-element steps into the first, lanes summed
// pairwise.
func dotF32() {
	TEXT("dotAVX2", NOSPLIT, "func(a, b *float32, n uintptr) float32")
	Pragma("noescape")
	Doc("dotAVX2 is Dot for n (a multiple of 8) elements: Σ a[i]·b[i] with fused",
		"multiply-adds in 32 float32 partial sums.")
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	n := Load(Param("n"), GP64())
	acc := make([]VecVirtual, 4)
	for i := range acc {
		acc[i] = YMM()
		VXORPS(acc[i], acc[i], acc[i])
	}
	Label("dot_loop32")
	CMPQ(n, U8(32))
	JB(LabelRef("dot_loop8"))
	for i := 0; i < 4; i++ {
		x := YMM()
		VMOVUPS(Mem{Base: a, Disp: 32 * i}, x)
		VFMADD231PS(Mem{Base: b, Disp: 32 * i}, x, acc[i])
	}
	ADDQ(U32(128), a)
	ADDQ(U32(128), b)
	SUBQ(U32(32), n)
	JMP(LabelRef("dot_loop32"))
	Label("dot_loop8")
	CMPQ(n, U8(8))
	JB(LabelRef("dot_done"))
	x := YMM()
	VMOVUPS(Mem{Base: a}, x)
	VFMADD231PS(Mem{Base: b}, x, acc[0])
	ADDQ(U32(32), a)
	ADDQ(U32(32), b)
	SUBQ(U32(8), n)
	JMP(LabelRef("dot_loop8"))
	Label("dot_done")
	VADDPS(acc[1], acc[0], acc[0])
	VADDPS(acc[3], acc[2], acc[2])
	VADDPS(acc[2], acc[0], acc[0])
	s := hsum(acc[0])
	VZEROUPPER()
	Store(s, ReturnIndex(0))
	RET()
}

// axpyF32: y += alpha·x over n (a multiple of 8) floats.
func axpyF32() {
	TEXT("axpyAVX2", NOSPLIT, "func(alpha float32, x, y *float32, n uintptr)")
	Pragma("noescape")
	Doc("axpyAVX2 is Axpy for n (a multiple of 8) elements: y[i] = fma(alpha, x[i], y[i]).")
	al := YMM()
	VBROADCASTSS(NewParamAddr("alpha", 0), al)
	x := Load(Param("x"), GP64())
	y := Load(Param("y"), GP64())
	n := Load(Param("n"), GP64())
	Label("axpy_loop32")
	CMPQ(n, U8(32))
	JB(LabelRef("axpy_loop8"))
	for i := 0; i < 4; i++ {
		v := YMM()
		VMOVUPS(Mem{Base: y, Disp: 32 * i}, v)
		VFMADD231PS(Mem{Base: x, Disp: 32 * i}, al, v)
		VMOVUPS(v, Mem{Base: y, Disp: 32 * i})
	}
	ADDQ(U32(128), x)
	ADDQ(U32(128), y)
	SUBQ(U32(32), n)
	JMP(LabelRef("axpy_loop32"))
	Label("axpy_loop8")
	CMPQ(n, U8(8))
	JB(LabelRef("axpy_done"))
	v := YMM()
	VMOVUPS(Mem{Base: y}, v)
	VFMADD231PS(Mem{Base: x}, al, v)
	VMOVUPS(v, Mem{Base: y})
	ADDQ(U32(32), x)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JMP(LabelRef("axpy_loop8"))
	Label("axpy_done")
	VZEROUPPER()
	RET()
}

func quantizers() {
	f32m127 = f32Const("f32m127", 0xc2fe0000)
	f32p127 = f32Const("f32p127", 0x42fe0000)
	f32one = f32Const("f32one", 0x3f800000)
	permQ = GLOBL("permq", RODATA|NOPTR)
	for i, v := range []uint32{0, 4, 1, 5, 2, 6, 3, 7} {
		DATA(4*i, U32(v))
	}
	quantQ8K()
	quantQ8x32()
	roundF16()
}

// packQuants converts four vectors of 8 int32 (elements 0..31 in order)
// to 32 saturated int8 in order.
func packQuants(v []VecVirtual) VecVirtual {
	VPACKSSDW(v[1], v[0], v[0])
	VPACKSSDW(v[3], v[2], v[2])
	VPACKSSWB(v[2], v[0], v[0])
	idx := YMM()
	VMOVDQU(permQ, idx)
	VPERMD(v[0], idx, v[0])
	return v[0]
}

// absMax4 returns max|x| over the 4 ymm at m broadcast to all 8 lanes.
func absMax4(m Mem) VecVirtual {
	am := YMM()
	VMOVUPS(absMask, am)
	v := make([]VecVirtual, 4)
	for i := range v {
		v[i] = YMM()
		VANDPS(m.Offset(32*i), am, v[i])
	}
	VMAXPS(v[1], v[0], v[0])
	VMAXPS(v[3], v[2], v[2])
	VMAXPS(v[2], v[0], v[0])
	t := YMM()
	VPERM2F128(U8(0x01), v[0], v[0], t)
	VMAXPS(t, v[0], v[0])
	VSHUFPS(U8(0x4e), v[0], v[0], t)
	VMAXPS(t, v[0], v[0])
	VSHUFPS(U8(0xb1), v[0], v[0], t)
	VMAXPS(t, v[0], v[0])
	return v[0]
}

// quantQ8K: quantize_row_q8_K_ref into the internal layout.
func quantQ8K() {
	TEXT("quantQ8KAVX2", NOSPLIT, "func(x *float32, nb uintptr, q *byte, d *float32, bs *int16)")
	Pragma("noescape")
	Doc("quantQ8KAVX2 is quantQ8KGo for nb blocks of 256 values at x: quants to q,",
		"scales to d, sums of 16 quants to bs (NaNs in x are skipped when finding the",
		"largest |x|, as quantQ8KGo skips them).")
	x := Load(Param("x"), GP64())
	nb := Load(Param("nb"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	bs := Load(Param("bs"), GP64())

	Label("q8k_block")
	// amax over 256 values
	am := YMM()
	VMOVUPS(absMask, am)
	// The accumulators start at zero and are the operand MAXPS returns
	// when a comparison is unordered, so a NaN in x never reaches amax:
	// amax is the largest non-NaN |x| in every lane, as quantQ8KGo's
	// "a > amax" finds it, and the search below always stops in the block.
	m := make([]VecVirtual, 4)
	for i := range m {
		m[i] = YMM()
		VXORPS(m[i], m[i], m[i])
	}
	for j := 0; j < 32; j++ {
		t := YMM()
		VANDPS(Mem{Base: x, Disp: 32 * j}, am, t)
		VMAXPS(m[j%4], t, m[j%4])
	}
	VMAXPS(m[1], m[0], m[0])
	VMAXPS(m[3], m[2], m[2])
	VMAXPS(m[2], m[0], m[0])
	t := YMM()
	VPERM2F128(U8(0x01), m[0], m[0], t)
	VMAXPS(t, m[0], m[0])
	VSHUFPS(U8(0x4e), m[0], m[0], t)
	VMAXPS(t, m[0], m[0])
	VSHUFPS(U8(0xb1), m[0], m[0], t)
	VMAXPS(t, m[0], m[0])
	amax := m[0]
	zero := XMM()
	VXORPS(zero, zero, zero)
	VUCOMISS(zero, amax.AsX())
	JNE(LabelRef("q8k_nonzero"))
	// all-zero block: d = 0, quants and bsums 0
	z := YMM()
	VPXOR(z, z, z)
	for i := 0; i < 8; i++ {
		VMOVDQU(z, Mem{Base: q, Disp: 32 * i})
	}
	VMOVDQU(z, Mem{Base: bs})
	MOVL(U32(0), Mem{Base: d})
	JMP(LabelRef("q8k_next"))

	Label("q8k_nonzero")
	// first index whose |x| equals amax
	i := GP64()
	XORQ(i, i)
	Label("q8k_find")
	f := YMM()
	VANDPS(Mem{Base: x, Index: i, Scale: 4}, am, f)
	VCMPPS(U8(0), amax, f, f) // EQ_OQ
	mask := GP32()
	VMOVMSKPS(f, mask)
	TESTL(mask, mask)
	JNZ(LabelRef("q8k_found"))
	ADDQ(U8(8), i)
	JMP(LabelRef("q8k_find"))
	Label("q8k_found")
	bit := GP32()
	TZCNTL(mask, bit)
	ADDQ(bit.As64(), i)
	mx := XMM()
	VMOVSS(Mem{Base: x, Index: i, Scale: 4}, mx)
	is := XMM()
	VMOVSS(f32m127, is)
	VDIVSS(mx, is, is) // iscale = -127/mx
	inv := XMM()
	VMOVSS(f32one, inv)
	VDIVSS(is, inv, inv) // d = 1/iscale
	VMOVSS(inv, Mem{Base: d})
	isv := YMM()
	VBROADCASTSS(is, isv)
	o8 := YMM()
	VMOVDQU(ones8, o8)
	for g := 0; g < 8; g++ {
		v := make([]VecVirtual, 4)
		for k := range v {
			v[k] = YMM()
			VMULPS(Mem{Base: x, Disp: 128*g + 32*k}, isv, v[k])
			VCVTPS2DQ(v[k], v[k])
		}
		p := packQuants(v)
		VMOVDQU(p, Mem{Base: q, Disp: 32 * g})
		s := YMM()
		VPMADDUBSW(p, o8, s)
		VPMADDWD(ones16, s, s)
		VPHADDD(s, s, s)
		VPHADDD(s, s, s)
		hi := XMM()
		VEXTRACTI128(U8(1), s, hi)
		r := GP32()
		VMOVD(s.AsX(), r)
		MOVW(r.As16(), Mem{Base: bs, Disp: 4 * g})
		VMOVD(hi, r)
		MOVW(r.As16(), Mem{Base: bs, Disp: 4*g + 2})
	}

	Label("q8k_next")
	ADDQ(U32(1024), x)
	ADDQ(U32(256), q)
	ADDQ(U32(4), d)
	ADDQ(U32(32), bs)
	DECQ(nb)
	JNZ(LabelRef("q8k_block"))
	VZEROUPPER()
	RET()
}

// quantQ8x32: ggml-cpu quantize_row_q8_0 / q8_1 (AVX path) per 32 values.
func quantQ8x32() {
	TEXT("quantQ8x32AVX2", NOSPLIT, "func(x *float32, nb uintptr, q *byte, d *float32, s *float32, is *int32)")
	Pragma("noescape")
	Doc("quantQ8x32AVX2 is quantQ8BlocksGo for nb blocks of 32 values at x: quants to q,",
		"fp16-rounded scales to d and, if s is not nil, the fp16-rounded (amax/127)·Σq",
		"to s, else Σq to is (x must not contain NaN).")
	x := Load(Param("x"), GP64())
	nb := Load(Param("nb"), GP64())
	q := Load(Param("q"), GP64())
	d := Load(Param("d"), GP64())
	sp := Load(Param("s"), GP64())
	ip := Load(Param("is"), GP64())
	Label("q8_block")
	amax := absMax4(Mem{Base: x})
	dd := XMM()
	VDIVSS(f32p127, amax.AsX(), dd) // d = amax/127 (unrounded)
	h := XMM()
	VCVTPS2PH(U8(0), dd, h)
	VCVTPH2PS(h, h)
	VMOVSS(h, Mem{Base: d})
	id := YMM()
	VXORPS(id, id, id)
	VUCOMISS(id.AsX(), amax.AsX())
	JE(LabelRef("q8_zero"))
	VMOVSS(f32p127, id.AsX())
	VDIVSS(amax.AsX(), id.AsX(), id.AsX()) // id = 127/amax
	VBROADCASTSS(id.AsX(), id)
	Label("q8_zero")
	v := make([]VecVirtual, 4)
	for k := range v {
		v[k] = YMM()
		VMULPS(Mem{Base: x, Disp: 32 * k}, id, v[k])
		VCVTPS2DQ(v[k], v[k])
	}
	sum := YMM()
	VPADDD(v[1], v[0], sum)
	VPADDD(v[2], sum, sum)
	VPADDD(v[3], sum, sum)
	hi := XMM()
	VEXTRACTI128(U8(1), sum, hi)
	VPADDD(hi, sum.AsX(), hi)
	VPHADDD(hi, hi, hi)
	VPHADDD(hi, hi, hi)
	TESTQ(sp, sp)
	JNZ(LabelRef("q8_s"))
	VMOVD(hi, Mem{Base: ip})
	ADDQ(U32(4), ip)
	JMP(LabelRef("q8_nosum"))
	Label("q8_s")
	VCVTDQ2PS(hi, hi)
	VMULSS(dd, hi, hi)
	VCVTPS2PH(U8(0), hi, hi)
	VCVTPH2PS(hi, hi)
	VMOVSS(hi, Mem{Base: sp})
	ADDQ(U32(4), sp)
	Label("q8_nosum")
	p := packQuants(v)
	VMOVDQU(p, Mem{Base: q})
	ADDQ(U32(128), x)
	ADDQ(U32(32), q)
	ADDQ(U32(4), d)
	DECQ(nb)
	JNZ(LabelRef("q8_block"))
	VZEROUPPER()
	RET()
}

// roundF16: dst = fp16 rounding of x, 8 values per step.
func roundF16() {
	TEXT("roundF16AVX2", NOSPLIT, "func(x, dst *float32, n uintptr)")
	Pragma("noescape")
	Doc("roundF16AVX2 is roundF16RowGo for n (a multiple of 8) values (F16C conversions,",
		"round to nearest even).")
	x := Load(Param("x"), GP64())
	dst := Load(Param("dst"), GP64())
	n := Load(Param("n"), GP64())
	Label("rf16_loop")
	v := YMM()
	VMOVUPS(Mem{Base: x}, v)
	h := XMM()
	VCVTPS2PH(U8(0), v, h)
	VCVTPH2PS(h, v)
	VMOVUPS(v, Mem{Base: dst})
	ADDQ(U32(32), x)
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JNZ(LabelRef("rf16_loop"))
	VZEROUPPER()
	RET()
}

// vconst returns a 32-byte constant holding the float32 v in all lanes.
func vconst(name string, v float32) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(math.Float32bits(v)))
	}
	return m
}

var ec struct {
	hi, lo, log2e, c1, c2, one Mem
	p                          [6]Mem
	i127                       Mem
}

func expConstants() {
	ec.hi = vconst("exphi", 88.3762626647949)
	ec.lo = vconst("explo", -87.33654)
	ec.log2e = vconst("log2e", 1.44269504088896341)
	ec.c1 = vconst("expc1", 0.693359375)
	ec.c2 = vconst("expc2", -2.12194440e-4)
	ec.one = vconst("fone", 1)
	for i, v := range []float32{1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1} {
		ec.p[i] = vconst(fmt.Sprintf("expp%d", i), v)
	}
	ec.i127 = GLOBL("i127", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(127))
	}
}

// expPS returns e^x for the 8 lanes of x (x is not modified): the steps of
// expf (kernels/expf.go) with fused multiply-adds.
func expPS(x VecVirtual) VecVirtual {
	c := YMM()
	VMOVUPS(ec.hi, c)
	VMINPS(x, c, c) // min(hi, x); a NaN x is kept (second operand)
	below := YMM()
	VCMPPS(U8(1), ec.lo, x, below) // x < lo
	n := YMM()
	VMULPS(ec.log2e, c, n)
	VROUNDPS(U8(0), n, n) // nearest even
	r := YMM()
	VMOVUPS(c, r)
	VFNMADD231PS(ec.c1, n, r) // r = c - n·C1
	VFNMADD231PS(ec.c2, n, r) // r -= n·C2
	r2 := YMM()
	VMULPS(r, r, r2)
	p := YMM()
	VMOVUPS(ec.p[0], p)
	for i := 1; i < 6; i++ {
		VFMADD213PS(ec.p[i], r, p) // p = p·r + P_i
	}
	VFMADD213PS(r, r2, p) // p = p·r² + r
	VADDPS(ec.one, p, p)
	e := YMM()
	VCVTPS2DQ(n, e)
	VPADDD(ec.i127, e, e)
	VPSLLD(U8(23), e, e)
	VMULPS(e, p, p)
	VANDNPS(p, below, p) // 0 where x < lo
	return p
}

// swigluF32: out = g/(1+e^-g) · u over n (a multiple of 8) values.
func swigluF32() {
	TEXT("swigluAVX2", NOSPLIT, "func(out, gate, up *float32, n uintptr)")
	Pragma("noescape")
	Doc("swigluAVX2 is swigluGo for n (a multiple of 8) values.")
	out := Load(Param("out"), GP64())
	g := Load(Param("gate"), GP64())
	u := Load(Param("up"), GP64())
	n := Load(Param("n"), GP64())
	Label("swiglu_loop")
	x := YMM()
	VMOVUPS(Mem{Base: g}, x)
	neg := YMM()
	VXORPS(neg, neg, neg)
	VSUBPS(x, neg, neg)
	e := expPS(neg)
	VADDPS(ec.one, e, e)
	VDIVPS(e, x, x) // g / (1 + e^-g)
	VMULPS(Mem{Base: u}, x, x)
	VMOVUPS(x, Mem{Base: out})
	ADDQ(U32(32), out)
	ADDQ(U32(32), g)
	ADDQ(U32(32), u)
	SUBQ(U32(8), n)
	JNZ(LabelRef("swiglu_loop"))
	VZEROUPPER()
	RET()
}

// expSumF32: x = e^(x-m), returns Σ in float64, n a multiple of 8.
func expSumF32() {
	TEXT("expSumAVX2", NOSPLIT, "func(x *float32, n uintptr, m float32) float64")
	Pragma("noescape")
	Doc("expSumAVX2 is expSumGo for n (a multiple of 8) values (the float64 sum is",
		"accumulated in eight lanes).")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	mv := YMM()
	VBROADCASTSS(NewParamAddr("m", 16), mv)
	s0, s1 := YMM(), YMM()
	VXORPD(s0, s0, s0)
	VXORPD(s1, s1, s1)
	Label("expsum_loop")
	v := YMM()
	VMOVUPS(Mem{Base: x}, v)
	VSUBPS(mv, v, v)
	e := expPS(v)
	VMOVUPS(e, Mem{Base: x})
	accumulatePD(e, s0, s1)
	ADDQ(U32(32), x)
	SUBQ(U32(8), n)
	JNZ(LabelRef("expsum_loop"))
	hx := sumPD(s0, s1)
	VZEROUPPER()
	Store(hx, ReturnIndex(0))
	RET()
}

// f16Widen: dst = float32(src) for n (a multiple of 8) halves.
func f16Widen() {
	TEXT("f16ToF32AVX2", NOSPLIT, "func(dst *float32, src *uint16, n uintptr)")
	Pragma("noescape")
	Doc("f16ToF32AVX2 is f16ToF32RowGo for n (a multiple of 8) values.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("f16w_loop")
	v := YMM()
	VCVTPH2PS(Mem{Base: src}, v)
	VMOVUPS(v, Mem{Base: dst})
	ADDQ(U32(16), src)
	ADDQ(U32(32), dst)
	SUBQ(U32(8), n)
	JNZ(LabelRef("f16w_loop"))
	VZEROUPPER()
	RET()
}

// f16Narrow: dst = fp16(src), round to nearest even, n a multiple of 8.
func f16Narrow() {
	TEXT("f32ToF16AVX2", NOSPLIT, "func(dst *uint16, src *float32, n uintptr)")
	Pragma("noescape")
	Doc("f32ToF16AVX2 is f32ToF16RowGo for n (a multiple of 8) values (NaN payloads may differ).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	Label("f16n_loop")
	v := YMM()
	VMOVUPS(Mem{Base: src}, v)
	h := XMM()
	VCVTPS2PH(U8(0), v, h)
	VMOVDQU(h, Mem{Base: dst})
	ADDQ(U32(32), src)
	ADDQ(U32(16), dst)
	SUBQ(U32(8), n)
	JNZ(LabelRef("f16n_loop"))
	VZEROUPPER()
	RET()
}

// sumSquaresF32: Σ float64(x·x) over n (a multiple of 8) floats.
func sumSquaresF32() {
	TEXT("sumSquaresAVX2", NOSPLIT, "func(x *float32, n uintptr) float64")
	Pragma("noescape")
	Doc("sumSquaresAVX2 is sumSquaresGo for n (a multiple of 8) values, the float64 sum in eight lanes.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	s0, s1 := YMM(), YMM()
	VXORPD(s0, s0, s0)
	VXORPD(s1, s1, s1)
	Label("sumsq_loop")
	v := YMM()
	VMOVUPS(Mem{Base: x}, v)
	VMULPS(v, v, v)
	accumulatePD(v, s0, s1)
	ADDQ(U32(32), x)
	SUBQ(U32(8), n)
	JNZ(LabelRef("sumsq_loop"))
	hx := sumPD(s0, s1)
	VZEROUPPER()
	Store(hx, ReturnIndex(0))
	RET()
}

// scaleMulF32: y = (x·s)·w (or x·s when w is nil), n a multiple of 8.
func scaleMulF32() {
	TEXT("scaleMulAVX2", NOSPLIT, "func(y, x, w *float32, s float32, n uintptr)")
	Pragma("noescape")
	Doc("scaleMulAVX2 is scaleMulGo for n (a multiple of 8) values (w may be nil).")
	y := Load(Param("y"), GP64())
	x := Load(Param("x"), GP64())
	w := Load(Param("w"), GP64())
	n := Load(Param("n"), GP64())
	sv := YMM()
	VBROADCASTSS(NewParamAddr("s", 24), sv)
	TESTQ(w, w)
	JZ(LabelRef("smul_now"))
	Label("smul_loop")
	v := YMM()
	VMULPS(Mem{Base: x}, sv, v)
	VMULPS(Mem{Base: w}, v, v)
	VMOVUPS(v, Mem{Base: y})
	ADDQ(U32(32), x)
	ADDQ(U32(32), w)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JNZ(LabelRef("smul_loop"))
	VZEROUPPER()
	RET()
	Label("smul_now")
	v2 := YMM()
	VMULPS(Mem{Base: x}, sv, v2)
	VMOVUPS(v2, Mem{Base: y})
	ADDQ(U32(32), x)
	ADDQ(U32(32), y)
	SUBQ(U32(8), n)
	JNZ(LabelRef("smul_now"))
	VZEROUPPER()
	RET()
}

// accumulatePD widens the eight floats of v to float64 and adds the low
// four to s0, the high four to s1.
func accumulatePD(v, s0, s1 VecVirtual) {
	d := YMM()
	VCVTPS2PD(v.AsX(), d)
	VADDPD(d, s0, s0)
	h := XMM()
	VEXTRACTF128(U8(1), v, h)
	d2 := YMM()
	VCVTPS2PD(h, d2)
	VADDPD(d2, s1, s1)
}

// sumPD returns (in lane 0 of an XMM) the float64 sum of the eight lanes of
// s0 and s1, as (s0+s1) halves added, then the two remaining lanes.
func sumPD(s0, s1 VecVirtual) VecVirtual {
	VADDPD(s1, s0, s0)
	hx := XMM()
	VEXTRACTF128(U8(1), s0, hx)
	VADDPD(hx, s0.AsX(), hx)
	sh := XMM()
	VPERMILPD(U8(1), hx, sh)
	VADDSD(sh, hx, hx)
	return hx
}
