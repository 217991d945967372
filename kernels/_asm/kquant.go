package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Shared read-only constants.
var (
	bcastW  Mem // [8][32]byte: VPSHUFB control broadcasting int16 word u within each 128-bit lane
	evenOdd Mem // [16]byte: VPSHUFB control ordering bytes 0,2,..,14,1,3,..,15
	mask0F  Mem // 32 × 0x0f
	mask03  Mem // 32 × 0x03
	mask10  Mem // 32 × 0x10
	mask30  Mem // 32 × 0x30
	byte04  Mem // 32 × 0x04
	byte20  Mem // 32 × 0x20
	ones16  Mem // 16 × int16 1
	ones8   Mem // 32 × 0x01
	kvalues Mem // the 16 IQ4_NL levels, twice (one per lane)
	absMask Mem // 8 × 0x7fffffff
)

func bytesConst(name string, n int, f func(i int) byte) Mem {
	m := GLOBL(name, RODATA|NOPTR)
	for i := 0; i < n; i++ {
		DATA(i, U8(f(i)))
	}
	return m
}

func constants() {
	bcastW = bytesConst("bcastw", 256, func(i int) byte {
		u := i / 32
		return byte(2*u + i%2)
	})
	evenOdd = bytesConst("evenodd", 16, func(i int) byte {
		if i < 8 {
			return byte(2 * i)
		}
		return byte(2*(i-8) + 1)
	})
	mask0F = bytesConst("mask0f", 32, func(int) byte { return 0x0f })
	mask03 = bytesConst("mask03", 32, func(int) byte { return 0x03 })
	mask10 = bytesConst("mask10", 32, func(int) byte { return 0x10 })
	mask30 = bytesConst("mask30", 32, func(int) byte { return 0x30 })
	byte04 = bytesConst("byte04", 32, func(int) byte { return 0x04 })
	byte20 = bytesConst("byte20", 32, func(int) byte { return 0x20 })
	ones16 = bytesConst("ones16", 32, func(i int) byte { return byte(1 - i%2) })
	ones8 = bytesConst("ones8", 32, func(int) byte { return 1 })
	kv := []int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}
	kvalues = bytesConst("kvalues", 32, func(i int) byte { return byte(kv[i%16]) })
	absMask = bytesConst("absmask", 32, func(i int) byte {
		if i%4 == 3 {
			return 0x7f
		}
		return 0xff
	})
}

// prefetchDist is how far ahead (bytes) the single-row kernels prefetch
// the weights they stream in decode.
const prefetchDist = 2048

// kctx is the state of one K-quant kernel being generated.
type kctx struct {
	T       int
	w       GPVirtual    // current super-block of the weight row
	sc      Mem          // stack: [8] ymm, the int16 scale vector of each unit
	dw      Mem          // stack: ymm, d broadcast
	ndmin   Mem          // stack: ymm, -dmin broadcast
	mins    Mem          // stack: ymm, int16 mins per 16 elements (or offset·scale)
	vals    Mem          // stack: ymm, signed values of the current unit (signed formats)
	scReg   []VecVirtual // T == 1: the unit scale vectors stay in registers
	masks   map[Mem]Op   // constants held in registers (T == 1, kq.regMasks)
	raw     VecVirtual   // bytes shared by consecutive units (Q4_K/Q5_K nibbles, Q6_K qh)
	ql      VecVirtual   // Q6_K one-row kernel: ql bytes shared by two units
	hasMin  bool
	hasOff  bool
	signed  bool
	prepare func(k *kctx)
	unit    func(k *kctx, u int) (w, v VecVirtual)
}

// kq describes one super-block format.
type kq struct {
	name   string
	twin   string
	bpb    int
	hasMin bool // mins: acc -= dmin·da·Σ m·bsum
	hasOff bool // unsigned storage with offset: isum -= Σ (off·sc)·bsum
	reduce bool // one exact integer per super-block (and one for the mins)
	signed bool // signed values: maddubs(|v|, sign(a, v))
	// regMasks are constants the one-row kernel keeps in registers
	// instead of loading them for every unit.
	regMasks []Mem
	// unitOrder is the order the one-row kernel visits the units in (nil:
	// 0..7); the integer sums are exact, so any order gives the same.
	unitOrder []int
	// prepare stores d (and -dmin), the unit scale vectors and the
	// mins/offset vector of the super-block at k.w into the stack slots.
	prepare func(k *kctx)
	// unit returns the 32 values of unit u (elements 32u..32u+31): w as
	// unsigned bytes (|v| when signed) and, when signed, v itself.
	unit func(k *kctx, u int) (w, v VecVirtual)
}

func kquantKernels() {
	for _, q := range []kq{q4K(), q5K(), q6K(), q3K(), q2K(), iq4XS()} {
		maxT := 4
		if q.signed {
			maxT = 3 // four rows need more than 16 vector registers
		}
		for T := 1; T <= maxT; T++ {
			kKernel(q, T)
		}
	}
}

// broadcastF16 returns the fp16 at m widened and broadcast to 8 float32.
func broadcastF16(m Mem) VecVirtual {
	x := XMM()
	VPBROADCASTW(m, x)
	y := YMM()
	VCVTPH2PS(x, y)
	return y
}

// storeUnitScales computes VPSHUFB(bcastW[u], scv) for u < 8 into k.sc
// (or, for one activation row, keeps them in registers).
func storeUnitScales(k *kctx, scv VecVirtual) {
	k.scReg = nil
	for u := 0; u < 8; u++ {
		s := YMM()
		VPSHUFB(bcastW.Offset(32*u), scv, s)
		if k.T == 1 && !k.signed {
			k.scReg = append(k.scReg, s)
		} else {
			VMOVDQU(s, k.sc.Offset(32*u))
		}
	}
}

// unitScale is the scale operand of unit u.
func (k *kctx) unitScale(u int) Op {
	if k.scReg != nil {
		return k.scReg[u]
	}
	return k.sc.Offset(32 * u)
}

func kKernel(q kq, T int) {
	name := fmt.Sprintf("%sT%d", q.name, T)
	TEXT(name, NOSPLIT, "func(w *byte, wstride, nr uintptr, a *byte, astride, nb uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the AVX2 form of %s for %d activation row(s): for r < nr", name, q.twin, T),
		"and t < "+fmt.Sprint(T)+", y[t·ys + r] = the dot product of weight row r (nb super-blocks",
		fmt.Sprintf("of %d bytes at w + r·wstride) with activation row t (internal Q8_K layout at", q.bpb),
		"a + t·astride), computed with exact int32 super-block sums.")
	k := &kctx{T: T, hasMin: q.hasMin, hasOff: q.hasOff, signed: q.signed, prepare: q.prepare, unit: q.unit}
	k.sc = AllocLocal(8 * 32)
	k.dw = AllocLocal(32)
	k.ndmin = AllocLocal(32)
	k.mins = AllocLocal(32)
	k.vals = AllocLocal(32)
	wrow := AllocLocal(8)
	yrow := AllocLocal(8)
	rcnt := AllocLocal(8)

	w0 := Load(Param("w"), GP64())
	MOVQ(w0, wrow)
	y0 := Load(Param("y"), GP64())
	MOVQ(y0, yrow)
	n0 := Load(Param("nr"), GP64())
	MOVQ(n0, rcnt)

	Label(name + "_row")
	acc := make([]VecVirtual, T)
	for t := range acc {
		acc[t] = YMM()
		VXORPS(acc[t], acc[t], acc[t])
	}
	k.w = GP64()
	MOVQ(wrow, k.w)
	p, s, nb := GP64(), GP64(), GP64()
	Load(Param("a"), p)
	Load(Param("astride"), s)
	Load(Param("nb"), nb)
	d := GP64()
	MOVQ(nb, d)
	SHLQ(U8(8), d)
	ADDQ(p, d) // d: activation scales
	b := GP64()
	LEAQ(Mem{Base: d, Index: nb, Scale: 4}, b) // b: bsums
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

	k.masks = map[Mem]Op{}
	if T == 1 {
		for _, m := range q.regMasks {
			r := YMM()
			VMOVDQU(m, r)
			k.masks[m] = r
		}
	}
	Label(name + "_blk")
	if T == 1 {
		PREFETCHT0(Mem{Base: k.w, Disp: prefetchDist})
		PREFETCHT0(Mem{Base: k.w, Disp: prefetchDist + 64})
		if q.bpb > 128 {
			PREFETCHT0(Mem{Base: k.w, Disp: prefetchDist + 128})
		}
	}
	q.prepare(k)
	isum := make([]VecVirtual, T)
	for t := range isum {
		isum[t] = YMM()
	}
	order := []int{0, 1, 2, 3, 4, 5, 6, 7}
	if T == 1 && q.unitOrder != nil {
		order = q.unitOrder
	}
	for i, u := range order {
		wv, vv := q.unit(k, u)
		if q.signed {
			VMOVDQU(vv, k.vals)
		}
		var scu Op = k.unitScale(u)
		if T > 1 && !q.signed {
			r := YMM()
			VMOVDQU(k.sc.Offset(32*u), r)
			scu = r
		}
		for t := 0; t < T; t++ {
			tmp := YMM()
			if q.signed {
				VMOVDQU(at(p, t, 32*u), tmp)
				VPSIGNB(k.vals, tmp, tmp)
				VPMADDUBSW(tmp, wv, tmp)
			} else {
				VPMADDUBSW(at(p, t, 32*u), wv, tmp)
			}
			if i == 0 {
				VPMADDWD(scu, tmp, isum[t])
			} else {
				VPMADDWD(scu, tmp, tmp)
				VPADDD(tmp, isum[t], isum[t])
			}
		}
	}
	for t := 0; t < T; t++ {
		if q.hasOff {
			off := YMM()
			VMOVDQU(k.mins, off)
			VPMADDWD(at(b, t, 0), off, off)
			VPSUBD(off, isum[t], isum[t])
		}
		if q.reduce {
			// one exact int32 per super-block (unsigned storage: the
			// lanes carry large offset terms; Q4_K: the packed GEMM's
			// numerics), then the mins' exact int32
			h := reduceI32(isum[t])
			VCVTDQ2PS(h, h)
			da := XMM()
			VMOVSS(at(d, t, 0), da)
			ds := XMM()
			VMULSS(k.dw, da, ds)
			VFMADD231SS(h, ds, acc[t].AsX())
			if q.hasMin {
				mi := YMM()
				VMOVDQU(k.mins, mi)
				VPMADDWD(at(b, t, 0), mi, mi)
				m := reduceI32(mi)
				VCVTDQ2PS(m, m)
				VMULSS(k.ndmin, da, da)
				VFMADD231SS(m, da, acc[t].AsX())
			}
			continue
		}
		// lanes are exact partial sums of terms no larger than the
		// format's own |w·a| (mins are a separate term, as in ggml)
		ds := YMM()
		VBROADCASTSS(at(d, t, 0), ds)
		f := YMM()
		VCVTDQ2PS(isum[t], f)
		if q.hasMin {
			mi := YMM()
			VMOVDQU(k.mins, mi)
			VPMADDWD(at(b, t, 0), mi, mi)
			VCVTDQ2PS(mi, mi)
			dm := YMM()
			VMULPS(k.ndmin, ds, dm)
			VFMADD231PS(mi, dm, acc[t])
		}
		VMULPS(k.dw, ds, ds)
		VFMADD231PS(f, ds, acc[t])
	}
	ADDQ(U32(q.bpb), k.w)
	ADDQ(U32(256), p)
	ADDQ(U32(4), d)
	ADDQ(U32(32), b)
	DECQ(nb)
	JNZ(LabelRef(name + "_blk"))

	storeRowSums(name, acc, yrow, wrow, rcnt)
	VZEROUPPER()
	RET()
}

// storeRowSums reduces each accumulator to a float32, stores it at
// y + t·ys (y = *yrow), advances *yrow by one float and *wrow by wstride,
// and loops to name_row while --*rcnt > 0.
func storeRowSums(name string, acc []VecVirtual, yrow, wrow, rcnt Mem) {
	yp := GP64()
	MOVQ(yrow, yp)
	ysb := Load(Param("ys"), GP64())
	SHLQ(U8(2), ysb)
	for t, a := range acc {
		x := hsum(a)
		VMOVSS(x, Mem{Base: yp})
		if t+1 < len(acc) {
			ADDQ(ysb, yp)
		}
	}
	ADDQ(U32(4), yrow)
	ws := Load(Param("wstride"), GP64())
	ADDQ(ws, wrow)
	DECQ(rcnt)
	JNZ(LabelRef(name + "_row"))
}

// reduceI32 returns the sum of the 8 int32 lanes of v in every lane of an
// xmm register.
func reduceI32(v VecVirtual) VecVirtual {
	h := XMM()
	VEXTRACTI128(U8(1), v, h)
	VPADDD(h, v.AsX(), h)
	t := XMM()
	VPSHUFD(U8(0x4e), h, t)
	VPADDD(t, h, h)
	VPSHUFD(U8(0xb1), h, t)
	VPADDD(t, h, h)
	return h
}

// hsum returns the sum of the 8 lanes of a in lane 0 of an xmm register:
// ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)).
func hsum(a VecVirtual) VecVirtual {
	hi := XMM()
	VEXTRACTF128(U8(1), a, hi)
	lo := XMM()
	VADDPS(a.AsX(), hi, lo)
	sh := XMM()
	VMOVHLPS(lo, lo, sh)
	VADDPS(sh, lo, lo)
	VMOVSHDUP(lo, sh)
	VADDSS(sh, lo, lo)
	return lo
}

// mask returns the operand for constant m: its register if k holds it in
// one, else m.
func (k *kctx) mask(m Mem) Op {
	if r, ok := k.masks[m]; ok {
		return r
	}
	return m
}

// nibbleUnit loads the 32 bytes at m and returns their low (hi = false) or
// high nibbles as bytes.
func nibbleUnit(k *kctx, m Mem, hi bool) VecVirtual {
	raw := YMM()
	VMOVDQU(m, raw)
	if hi {
		VPSRLW(U8(4), raw, raw)
	}
	VPAND(k.mask(mask0F), raw, raw)
	return raw
}

// nibblePair returns the low nibbles of the 32 bytes at m for an even unit
// (keeping the bytes in k.raw) and their high nibbles for the odd unit that
// follows.
func nibblePair(k *kctx, m Mem, u int) VecVirtual {
	v := YMM()
	if u%2 == 0 {
		k.raw = YMM()
		VMOVDQU(m, k.raw)
		VPAND(mask0F, k.raw, v)
		return v
	}
	VPSRLW(U8(4), k.raw, v)
	VPAND(mask0F, v, v)
	return v
}

// shiftedBits returns ((h shifted left by l, or right by -l, in 16-bit
// lanes) & mask) for the 32 bytes h at m.
func shiftedBits(m Mem, l int, mask Op) VecVirtual {
	h := YMM()
	VMOVDQU(m, h)
	switch {
	case l > 0:
		VPSLLW(U8(l), h, h)
	case l < 0:
		VPSRLW(U8(-l), h, h)
	}
	VPAND(mask, h, h)
	return h
}

// Q4_K: d, dmin fp16; 12 bytes of 6-bit scales/mins; qs[128] nibbles, unit
// u = 2c + h is the low (h = 0) or high nibble of qs[32c:32c+32].
func q4K() kq {
	return kq{name: "q4k", twin: "kTileGo(unpackQ4K)", bpb: 144, hasMin: true, reduce: true,
		prepare: prepareK4,
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			return nibblePair(k, Mem{Base: k.w, Disp: 16 + 32*(u/2)}, u), nil
		},
	}
}

// Q5_K: as Q4_K with qh[32] at 16 (bit u of qh[l] is bit 4 of element
// 32u + l) and qs at 48.
func q5K() kq {
	return kq{name: "q5k", twin: "kTileGo(unpackQ5K)", bpb: 176, hasMin: true,
		prepare: prepareK4,
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			v := nibblePair(k, Mem{Base: k.w, Disp: 48 + 32*(u/2)}, u)
			h := shiftedBits(Mem{Base: k.w, Disp: 16}, 4-u, mask10)
			VPOR(h, v, v)
			return v, nil
		},
	}
}

// Q6_K: ql[128] at 0, qh[64] at 128, int8 scales[16] at 192, d at 208;
// unit u = 4h + k: low nibble (k < 2) or high nibble of ql[64h + 32(k%2):],
// bits 2k..2k+1 of qh[32h:] on top; stored unsigned, offset 32.
func q6K() kq {
	return kq{name: "q6k", twin: "kTileGo(unpackQ6K)", bpb: 210, hasOff: true, reduce: true,
		regMasks:  []Mem{mask0F, mask30},
		unitOrder: []int{0, 2, 1, 3, 4, 6, 5, 7}, // units sharing ql bytes in turn
		prepare: func(k *kctx) {
			VMOVUPS(broadcastF16(Mem{Base: k.w, Disp: 208}), k.dw)
			raw := XMM()
			VMOVDQU(Mem{Base: k.w, Disp: 192}, raw)
			prepareScales16(k, raw, 5)
		},
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			h, kk := u/4, u%4
			var v, hb VecVirtual
			if k.T == 1 {
				// ql bytes loaded once for their two units (in turn,
				// see unitOrder)
				if kk < 2 {
					k.ql = YMM()
					VMOVDQU(Mem{Base: k.w, Disp: 64*h + 32*(kk%2)}, k.ql)
					v = YMM()
					VPAND(k.mask(mask0F), k.ql, v)
				} else {
					v = YMM()
					VPSRLW(U8(4), k.ql, v)
					VPAND(k.mask(mask0F), v, v)
				}
				// qh[32h:] loaded once for its four units
				if kk == 0 {
					k.raw = YMM()
					VMOVDQU(Mem{Base: k.w, Disp: 128 + 32*h}, k.raw)
				}
				hb = YMM()
				switch l := 4 - 2*kk; {
				case l > 0:
					VPSLLW(U8(l), k.raw, hb)
					VPAND(k.mask(mask30), hb, hb)
				case l < 0:
					VPSRLW(U8(-l), k.raw, hb)
					VPAND(k.mask(mask30), hb, hb)
				default:
					VPAND(k.mask(mask30), k.raw, hb)
				}
			} else {
				v = nibbleUnit(k, Mem{Base: k.w, Disp: 64*h + 32*(kk%2)}, kk >= 2)
				hb = shiftedBits(Mem{Base: k.w, Disp: 128 + 32*h}, 4-2*kk, k.mask(mask30))
			}
			VPOR(hb, v, v)
			return v, nil
		},
	}
}

// prepareScales16 stores the unit scale vectors of 16 signed int8 scales
// (one per 16 elements) held in raw: unit u uses scale 2u in its low lane
// and 2u+1 in its high lane; and the offset vector scales << shift.
func prepareScales16(k *kctx, raw VecVirtual, shift int) {
	eo := XMM()
	VPSHUFB(evenOdd, raw, eo)
	scv := YMM()
	VPMOVSXBW(eo, scv)
	storeUnitScales(k, scv)
	off := YMM()
	VPMOVSXBW(raw, off)
	VPSLLW(U8(shift), off, off)
	VMOVDQU(off, k.mins)
}

// Q3_K: hmask[32] at 0, qs[64] at 32, 12 bytes of 6-bit scales at 96, d at
// 108; unit u = 4h + k: bits 2k..2k+1 of qs[32h:], bit u of hmask as bit 2;
// stored unsigned 0..7, offset 4.
func q3K() kq {
	return kq{name: "q3k", twin: "kTileGo(unpackQ3K)", bpb: 110, hasOff: true, reduce: true,
		prepare: func(k *kctx) {
			w := k.w
			VMOVUPS(broadcastF16(Mem{Base: w, Disp: 108}), k.dw)
			a0, a1, a2 := GP32(), GP32(), GP32()
			MOVL(Mem{Base: w, Disp: 96}, a0)
			MOVL(Mem{Base: w, Disp: 100}, a1)
			MOVL(Mem{Base: w, Disp: 104}, a2)
			word := func(src GPVirtual, srcShift int, hiShift int) GPVirtual {
				r, x := GP32(), GP32()
				MOVL(src, r)
				if srcShift > 0 {
					SHRL(U8(srcShift), r)
				}
				ANDL(U32(0x0f0f0f0f), r)
				MOVL(a2, x)
				if hiShift > 0 {
					SHRL(U8(hiShift), x)
				}
				ANDL(U32(0x03030303), x)
				SHLL(U8(4), x)
				ORL(x, r)
				return r
			}
			s0 := word(a0, 0, 0)
			s1 := word(a1, 0, 2)
			s2 := word(a0, 4, 4)
			s3 := word(a1, 4, 6)
			lo, hi := GP64(), GP64()
			MOVL(s1, lo.As32())
			SHLQ(U8(32), lo)
			ORQ(s0.As64(), lo)
			MOVL(s3, hi.As32())
			SHLQ(U8(32), hi)
			ORQ(s2.As64(), hi)
			raw := XMM()
			VMOVQ(lo, raw)
			VPINSRQ(U8(1), hi, raw, raw)
			VPSUBB(byte20.Offset(0), raw, raw)
			prepareScales16(k, raw, 2)
		},
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			h, kk := u/4, u%4
			q := shiftedBits(Mem{Base: k.w, Disp: 32 + 32*h}, -2*kk, mask03)
			hb := shiftedBits(Mem{Base: k.w}, 2-u, byte04)
			VPOR(hb, q, q)
			return q, nil
		},
	}
}

// Q2_K: scales[16] at 0 (low nibble scale, high nibble min), qs[64] at 16,
// d at 80, dmin at 82; unit u = 4h + k: bits 2k..2k+1 of qs[32h:].
func q2K() kq {
	return kq{name: "q2k", twin: "kTileGo(unpackQ2K)", bpb: 84, hasMin: true,
		prepare: func(k *kctx) {
			w := k.w
			VMOVUPS(broadcastF16(Mem{Base: w, Disp: 80}), k.dw)
			dm := broadcastF16(Mem{Base: w, Disp: 82})
			neg := YMM()
			VXORPS(neg, neg, neg)
			VSUBPS(dm, neg, neg)
			VMOVUPS(neg, k.ndmin)
			raw := XMM()
			VMOVDQU(Mem{Base: w}, raw)
			sc := XMM()
			VPAND(mask0F.Offset(0), raw, sc)
			VPSHUFB(evenOdd, sc, sc)
			scv := YMM()
			VPMOVZXBW(sc, scv)
			storeUnitScales(k, scv)
			VPSRLW(U8(4), raw, raw)
			VPAND(mask0F.Offset(0), raw, raw)
			m16 := YMM()
			VPMOVZXBW(raw, m16)
			VMOVDQU(m16, k.mins)
		},
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			return shiftedBits(Mem{Base: k.w, Disp: 16 + 32*(u/4)}, -2*(u%4), mask03), nil
		},
	}
}

// IQ4_XS: d at 0, scales_h (uint16) at 2, scales_l[4] at 4, qs[128] at 8;
// unit u: qs[16u:16u+16] low nibbles (elements 0..15) then high nibbles,
// looked up in kvalues_iq4nl; 6-bit scales with offset 32, one per unit.
func iq4XS() kq {
	return kq{name: "iq4xs", twin: "kTileGo(unpackIQ4XS)", bpb: 136, signed: true,
		prepare: func(k *kctx) {
			w := k.w
			VMOVUPS(broadcastF16(Mem{Base: w}), k.dw)
			sl, sh, m := GP64(), GP64(), GP64()
			MOVL(Mem{Base: w, Disp: 4}, sl.As32())
			MOVQ(U64(0x0f0f0f0f0f0f0f0f), m)
			PDEPQ(m, sl, sl)
			MOVWQZX(Mem{Base: w, Disp: 2}, sh)
			MOVQ(U64(0x3030303030303030), m)
			PDEPQ(m, sh, sh)
			ORQ(sh, sl)
			x := XMM()
			VMOVQ(sl, x)
			VPSUBB(byte20.Offset(0), x, x)
			scv := YMM()
			VPMOVSXBW(x, scv)
			VPERMQ(U8(0x44), scv, scv)
			storeUnitScales(k, scv)
		},
		unit: func(k *kctx, u int) (VecVirtual, VecVirtual) {
			return iq4Unit(Mem{Base: k.w, Disp: 8 + 16*u})
		},
	}
}

// iq4Unit decodes 16 bytes of IQ4 nibbles at m (low nibbles are elements
// 0..15, high nibbles 16..31) into their kvalues v and |v|.
func iq4Unit(m Mem) (abs, v VecVirtual) {
	lo := nibbles16(m)
	v = YMM()
	VMOVDQU(kvalues, v)
	VPSHUFB(lo, v, v)
	abs = YMM()
	VPABSB(v, abs)
	return abs, v
}

// prepareK4 unpacks the scales and mins of a Q4_K/Q5_K block (ggml's
// get_scale_min_k4, in 32-bit words as ggml's AVX2 code does) into the
// stack slots: unit u's scale is sc[u]; mins are paired with the bsums of
// 16 as m[0],m[0],m[1],m[1],…
func prepareK4(k *kctx) {
	w := k.w
	VMOVUPS(broadcastF16(Mem{Base: w}), k.dw)
	dm := broadcastF16(Mem{Base: w, Disp: 2})
	neg := YMM()
	VXORPS(neg, neg, neg)
	VSUBPS(dm, neg, neg)
	VMOVUPS(neg, k.ndmin)

	xs := decodeK4Scales(w) // bytes: sc0..7, m0..7
	scv := YMM()
	VPMOVZXBW(xs, scv)
	VPERMQ(U8(0x44), scv, scv)
	storeUnitScales(k, scv)
	mm := XMM()
	VPUNPCKHBW(xs, xs, mm)
	m16 := YMM()
	VPMOVZXBW(mm, m16)
	VMOVDQU(m16, k.mins)
}
