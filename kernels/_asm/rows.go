package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Decode (one activation row) kernels that read eight weight rows side by
// side from the file's own layout: each row's super-block is reduced to 8
// int32 lanes as in the tile kernels, the eight rows' lane vectors are
// summed horizontally together (a vphaddd tree), and the float scaling of
// the eight exact block sums is one vector operation. Compared with a row
// at a time this saves the per-row horizontal sums and scalar float work,
// and keeps eight streams of weights in flight.

var dShuf Mem // VPSHUFB control: per 128-bit lane, fp16 words 0,2,4,6 then 1,3,5,7

func rowKernels() {
	dShuf = bytesConst("dshuf", 32, func(i int) byte {
		ow := i % 16 / 2 // output word within the lane
		sw := 2 * ow     // d_ow
		if ow >= 4 {
			sw = 2*(ow-4) + 1 // dmin_(ow-4)
		}
		return byte(2*sw + i%2)
	})
	q4kR8T1()
}

// decodeK4Scales returns the 16 bytes sc0..7, m0..7 of the Q4_K/Q5_K
// scales at w+4 (ggml's get_scale_min_k4, in 32-bit words).
func decodeK4Scales(w GPVirtual) VecVirtual {
	u0, u1, u2 := GP32(), GP32(), GP32()
	MOVL(Mem{Base: w, Disp: 4}, u0)
	MOVL(Mem{Base: w, Disp: 8}, u1)
	MOVL(Mem{Base: w, Disp: 12}, u2)
	t3, x := GP32(), GP32()
	MOVL(u2, t3)
	SHRL(U8(4), t3)
	ANDL(U32(0x0f0f0f0f), t3)
	MOVL(u1, x)
	SHRL(U8(6), x)
	ANDL(U32(0x03030303), x)
	SHLL(U8(4), x)
	ORL(x, t3)
	ANDL(U32(0x0f0f0f0f), u2)
	MOVL(u0, x)
	SHRL(U8(6), x)
	ANDL(U32(0x03030303), x)
	SHLL(U8(4), x)
	ORL(x, u2)
	ANDL(U32(0x3f3f3f3f), u1)
	ANDL(U32(0x3f3f3f3f), u0)
	sc, mn := GP64(), GP64()
	MOVL(u2, sc.As32())
	SHLQ(U8(32), sc)
	MOVL(u0, x)
	ORQ(x.As64(), sc)
	MOVL(t3, mn.As32())
	SHLQ(U8(32), mn)
	MOVL(u1, x)
	ORQ(x.As64(), mn)
	xs := XMM()
	VMOVQ(sc, xs)
	VPINSRQ(U8(1), mn, xs, xs)
	return xs
}

// hsumRows8 returns the vector of the horizontal sums of the eight int32
// lane vectors at base + r·rs + disp (r < 8).
func hsumRows8(base GPVirtual, rs, disp int) VecVirtual {
	t := make([]VecVirtual, 4)
	for i := range t {
		t[i] = YMM()
		VMOVDQU(Mem{Base: base, Disp: 2*i*rs + disp}, t[i])
		VPHADDD(Mem{Base: base, Disp: (2*i+1)*rs + disp}, t[i], t[i])
	}
	VPHADDD(t[1], t[0], t[0])
	VPHADDD(t[3], t[2], t[2])
	lo := YMM()
	VPERM2I128(U8(0x20), t[2], t[0], lo)
	VPERM2I128(U8(0x31), t[2], t[0], t[0])
	VPADDD(lo, t[0], t[0])
	return t[0]
}

// rowChunk is the number of super-blocks of each of the eight rows that the
// eight-rows kernels reduce before summing them across rows (in a stack
// buffer of rowChunk·(8·64 + 32) bytes).
const rowChunk = 16

// q4kR8T1: Q4_K decode, eight rows at a time (nr a multiple of 8). Each
// row streams up to rowChunk super-blocks in order (one memory stream at a
// time), leaving per super-block the lane vectors of Σ sc·q·a and Σ m·bsum
// in buf; then the eight rows' vectors are summed horizontally together
// and scaled as one vector.
func q4kR8T1() {
	name := "q4kR8T1"
	TEXT(name, 0, "func(w *byte, wstride, nr uintptr, a *byte, nb uintptr, y *float32)")
	Pragma("noescape")
	Doc(name+" is the AVX2 form of kTileGo(unpackQ4K) for one activation row and",
		"nr rows (a multiple of 8) read eight at a time: y[r] = the dot product of",
		"weight row r (nb super-blocks of 144 bytes at w + r·wstride) with the",
		"activation row (internal Q8_K layout at a), with exact int32 super-block",
		"sums.")
	const rs = rowChunk * 64 // bytes per row in buf
	const dOff = 8 * rs      // [rowChunk][8] (d, dmin) fp16 pairs
	wg := AllocLocal(8)      // row 0 of the current group
	yp := AllocLocal(8)
	gcnt := AllocLocal(8)
	b0 := AllocLocal(8) // first super-block of the chunk
	cb := AllocLocal(8) // super-blocks in the chunk
	rr := AllocLocal(8) // row of the group
	buf := AllocLocal(rowChunk * (8*64 + 32))
	MOVQ(Load(Param("w"), GP64()), wg)
	MOVQ(Load(Param("y"), GP64()), yp)
	n0 := Load(Param("nr"), GP64())
	SHRQ(U8(3), n0)
	MOVQ(n0, gcnt)

	Label(name + "_grp")
	acc := YMM()
	VXORPS(acc, acc, acc)
	MOVQ(U32(0), b0)

	Label(name + "_chunk")
	{
		c := Load(Param("nb"), GP64())
		SUBQ(b0, c)
		m := GP64()
		MOVQ(U32(rowChunk), m)
		CMPQ(c, m)
		CMOVQGT(m, c)
		MOVQ(c, cb)
		MOVQ(U32(0), rr)
	}

	Label(name + "_row")
	wr, p, bs, bp, dp, k := GP64(), GP64(), GP64(), GP64(), GP64(), GP64()
	{
		t := GP64()
		MOVQ(wg, wr)
		Load(Param("wstride"), t)
		IMULQ(rr, t)
		ADDQ(t, wr)
		IMUL3Q(U32(144), b0, t)
		ADDQ(t, wr)
		Load(Param("a"), p)
		Load(Param("nb"), bs)
		IMUL3Q(U32(260), bs, bs)
		ADDQ(p, bs)
		MOVQ(b0, t)
		SHLQ(U8(5), t)
		ADDQ(t, bs)
		SHLQ(U8(3), t)
		ADDQ(t, p)
		LEAQ(buf, bp)
		MOVQ(rr, t)
		SHLQ(U8(2), t)
		LEAQ(Mem{Base: bp, Index: t, Scale: 1, Disp: dOff}, dp)
		SHLQ(U8(8), t) // rr·1024 = rr·rs
		ADDQ(t, bp)
		MOVQ(cb, k)
	}
	m0F := YMM() // mask0F, held in a register to save loads
	VMOVDQU(mask0F, m0F)
	var bc [4]VecVirtual // bcastW[0..3]; sub-blocks 4..7 use them on the scales shifted down
	for u := range bc {
		bc[u] = YMM()
		VMOVDQU(bcastW.Offset(32*u), bc[u])
	}
	Label(name + "_blk")
	PREFETCHT0(Mem{Base: wr, Disp: prefetchDist})
	PREFETCHT0(Mem{Base: wr, Disp: prefetchDist + 64})
	PREFETCHT0(Mem{Base: wr, Disp: prefetchDist + 128})
	{
		dw := GP32()
		MOVL(Mem{Base: wr}, dw)
		MOVL(dw, Mem{Base: dp})
		xs := decodeK4Scales(wr)
		scv := YMM()
		VPMOVZXBW(xs, scv)
		VPERMQ(U8(0x44), scv, scv)
		mm := XMM()
		VPUNPCKHBW(xs, xs, mm)
		m16 := YMM()
		VPMOVZXBW(mm, m16)
		VPMADDWD(Mem{Base: bs}, m16, m16)
		VMOVDQU(m16, Mem{Base: bp, Disp: 32})
		scvHi := YMM()
		VPSRLDQ(U8(8), scv, scvHi)
		var isum VecVirtual
		for c := 0; c < 4; c++ {
			raw := YMM()
			VMOVDQU(Mem{Base: wr, Disp: 16 + 32*c}, raw)
			for h := 0; h < 2; h++ {
				u := 2*c + h
				q := YMM()
				if h == 0 {
					VPAND(m0F, raw, q)
				} else {
					VPSRLW(U8(4), raw, q)
					VPAND(m0F, q, q)
				}
				VPMADDUBSW(Mem{Base: p, Disp: 32 * u}, q, q)
				s := YMM()
				if u < 4 {
					VPSHUFB(bc[u], scv, s)
				} else {
					VPSHUFB(bc[u-4], scvHi, s)
				}
				VPMADDWD(s, q, q)
				if u == 0 {
					isum = q
				} else {
					VPADDD(q, isum, isum)
				}
			}
		}
		VMOVDQU(isum, Mem{Base: bp})
	}
	ADDQ(U32(144), wr)
	ADDQ(U32(256), p)
	ADDQ(U8(32), bs)
	ADDQ(U8(64), bp)
	ADDQ(U8(32), dp)
	DECQ(k)
	JNZ(LabelRef(name + "_blk"))
	INCQ(rr)
	CMPQ(rr, U8(8))
	JNE(LabelRef(name + "_row"))

	// sum the eight rows' lane vectors per super-block and scale them
	{
		q, dq, da, n := GP64(), GP64(), GP64(), GP64()
		LEAQ(buf, q)
		LEAQ(Mem{Base: q, Disp: dOff}, dq)
		Load(Param("a"), da)
		Load(Param("nb"), n)
		SHLQ(U8(8), n)
		ADDQ(n, da)
		MOVQ(b0, n)
		LEAQ(Mem{Base: da, Index: n, Scale: 4}, da) // activation d of the chunk
		MOVQ(cb, n)
		Label(name + "_sum")
		S := hsumRows8(q, rs, 0)
		M := hsumRows8(q, rs, 32)
		// (d, dmin) pairs of the 8 rows → d0..7, dmin0..7
		dd := YMM()
		VMOVDQU(Mem{Base: dq}, dd)
		VPSHUFB(dShuf, dd, dd)
		VPERMQ(U8(0xd8), dd, dd)
		dv, dmv := YMM(), YMM()
		VCVTPH2PS(dd.AsX(), dv)
		hi := XMM()
		VEXTRACTI128(U8(1), dd, hi)
		VCVTPH2PS(hi, dmv)
		ad := YMM()
		VBROADCASTSS(Mem{Base: da}, ad)
		VMULPS(ad, dv, dv)
		VCVTDQ2PS(S, S)
		VFMADD231PS(S, dv, acc)
		VMULPS(ad, dmv, dmv)
		VCVTDQ2PS(M, M)
		VFNMADD231PS(M, dmv, acc)
		ADDQ(U8(64), q)
		ADDQ(U8(32), dq)
		ADDQ(U8(4), da)
		DECQ(n)
		JNZ(LabelRef(name + "_sum"))
	}
	{
		c := GP64()
		MOVQ(b0, c)
		ADDQ(cb, c)
		MOVQ(c, b0)
		n := Load(Param("nb"), GP64())
		CMPQ(c, n)
		JB(LabelRef(name + "_chunk"))
	}
	// + 0, as the tile kernels' horizontal sums
	z := YMM()
	VXORPS(z, z, z)
	VADDPS(z, acc, acc)
	yq := GP64()
	MOVQ(yp, yq)
	VMOVUPS(acc, Mem{Base: yq})
	ADDQ(U8(32), yp)
	wsr := Load(Param("wstride"), GP64())
	SHLQ(U8(3), wsr)
	ADDQ(wsr, wg)
	DECQ(gcnt)
	JNZ(LabelRef(name + "_grp"))
	VZEROUPPER()
	RET()
}
