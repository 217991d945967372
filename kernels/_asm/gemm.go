package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Packed GEMM kernels: one row group of eight weight rows, repacked so
// that 32-byte vector lane r holds four consecutive quants of row r (see
// the layouts in ../gemm_kquants.go and ../gemm_legacy.go), times T
// activation rows. Four activation bytes are broadcast to all lanes, so one
// vpmaddubsw multiplies them with the matching quants of all eight rows,
// and every accumulator lane is one output: no horizontal sums, and the
// decoded weights are reused by every token of the batch.

func gemmKernels() {
	for T := 1; T <= 4; T++ {
		q4kGemm(T)
	}
	for T := 1; T <= 4; T++ {
		q6kGemm(T)
	}
	for T := 1; T <= 4; T++ {
		legacyGemm("q80", 544, true, 0, T)
		legacyGemm("q50", 288, false, 16, T)
		legacyGemm("q40", 288, false, 8, T)
	}
}

// tokAddr returns the address of activation row t (t < 4) at base + disp,
// row stride s (s3 = 3·s).
func tokAddr(base, s, s3 GPVirtual, t, disp int) Mem {
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

// gemmProlog loads the common parameters: packed weights p, block count
// nb, activations a with stride s (and 3s for T = 4).
func gemmProlog(T int) (p, nb, a, s, s3 GPVirtual) {
	p, nb, a, s = GP64(), GP64(), GP64(), GP64()
	Load(Param("p"), p)
	Load(Param("nb"), nb)
	Load(Param("a"), a)
	Load(Param("astride"), s)
	if T == 4 {
		s3 = GP64()
		LEAQ(Mem{Base: s, Index: s, Scale: 2}, s3)
	}
	return
}

// gemmStore writes each token's eight row sums plus zero (a −0 sum
// becomes +0, as in the tile kernels' horizontal sums) to y + t·ys.
func gemmStore(acc []VecVirtual) {
	y := Load(Param("y"), GP64())
	ys := Load(Param("ys"), GP64())
	SHLQ(U8(2), ys)
	z := YMM()
	VXORPS(z, z, z)
	for t, v := range acc {
		VADDPS(z, v, v)
		VMOVUPS(v, Mem{Base: y})
		if t+1 < len(acc) {
			ADDQ(ys, y)
		}
	}
}

// q4kGemm: Q4_K, packed as q4kGroupBytes (2496 bytes per super-block).
func q4kGemm(T int) {
	name := fmt.Sprintf("q4kGemmT%d", T)
	TEXT(name, NOSPLIT, "func(p *byte, nb uintptr, a *byte, astride uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the AVX2 form of q4kGemmGo for %d activation row(s): for r < 8", name, T),
		"and t < "+fmt.Sprint(T)+", y[t·ys + r] = the dot product of packed Q4_K row r (nb",
		"super-blocks of 2496 bytes at p) with activation row t (internal Q8_K",
		"layout at a + t·astride).")
	p, nb, a, s, s3 := gemmProlog(T)
	d := GP64()
	MOVQ(nb, d)
	SHLQ(U8(8), d)
	ADDQ(a, d) // activation scales
	b32 := GP64()
	LEAQ(Mem{Base: nb, Index: nb, Scale: 8}, b32) // 9nb
	LEAQ(Mem{Base: d, Index: b32, Scale: 4}, b32) // d + 36nb: bsums32
	acc := make([]VecVirtual, T)
	for t := range acc {
		acc[t] = YMM()
		VXORPS(acc[t], acc[t], acc[t])
	}
	Label(name + "_blk")
	acc32 := make([]VecVirtual, T)
	for j := 0; j < 8; j++ {
		acc16 := make([]VecVirtual, T)
		for k := 0; k < 8; k++ {
			w := YMM()
			VMOVDQU(Mem{Base: p, Disp: 256*j + 32*k}, w)
			for t := 0; t < T; t++ {
				x := YMM()
				VPBROADCASTD(tokAddr(a, s, s3, t, 32*j+4*k), x)
				VPMADDUBSW(x, w, x)
				if k == 0 {
					acc16[t] = x
				} else {
					VPADDW(x, acc16[t], acc16[t])
				}
			}
		}
		for t := 0; t < T; t++ {
			if j == 0 {
				acc32[t] = YMM()
				VPMADDWD(Mem{Base: p, Disp: 2048}, acc16[t], acc32[t])
			} else {
				VPMADDWD(Mem{Base: p, Disp: 2048 + 32*j}, acc16[t], acc16[t])
				VPADDD(acc16[t], acc32[t], acc32[t])
			}
		}
	}
	for t := 0; t < T; t++ {
		m := YMM()
		for i := 0; i < 4; i++ {
			x := YMM()
			VPBROADCASTD(tokAddr(b32, s, s3, t, 4*i), x)
			if i == 0 {
				VPMADDWD(Mem{Base: p, Disp: 2304}, x, m)
			} else {
				VPMADDWD(Mem{Base: p, Disp: 2304 + 32*i}, x, x)
				VPADDD(x, m, m)
			}
		}
		da := YMM()
		VBROADCASTSS(tokAddr(d, s, s3, t, 0), da)
		VCVTDQ2PS(acc32[t], acc32[t])
		dd := YMM()
		VMULPS(Mem{Base: p, Disp: 2432}, da, dd)
		VFMADD231PS(acc32[t], dd, acc[t])
		VCVTDQ2PS(m, m)
		VMULPS(Mem{Base: p, Disp: 2464}, da, da)
		VFMADD231PS(m, da, acc[t])
	}
	ADDQ(U32(2496), p)
	ADDQ(U32(256), a)
	ADDQ(U8(4), d)
	ADDQ(U8(16), b32)
	DECQ(nb)
	JNZ(LabelRef(name + "_blk"))
	gemmStore(acc)
	VZEROUPPER()
	RET()
}

// q6kGemm: Q6_K, packed as q6kGroupBytes (2848 bytes per super-block).
func q6kGemm(T int) {
	name := fmt.Sprintf("q6kGemmT%d", T)
	TEXT(name, NOSPLIT, "func(p *byte, nb uintptr, a *byte, astride uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the AVX2 form of q6kGemmGo for %d activation row(s): for r < 8", name, T),
		"and t < "+fmt.Sprint(T)+", y[t·ys + r] = the dot product of packed Q6_K row r (nb",
		"super-blocks of 2848 bytes at p) with activation row t (internal Q8_K",
		"layout at a + t·astride).")
	p, nb, a, s, s3 := gemmProlog(T)
	d := GP64()
	MOVQ(nb, d)
	SHLQ(U8(8), d)
	ADDQ(a, d) // activation scales
	bs := GP64()
	LEAQ(Mem{Base: d, Index: nb, Scale: 4}, bs) // bsums
	acc := make([]VecVirtual, T)
	for t := range acc {
		acc[t] = YMM()
		VXORPS(acc[t], acc[t], acc[t])
	}
	Label(name + "_blk")
	acc32 := make([]VecVirtual, T)
	for t := range acc32 {
		acc32[t] = YMM()
		VPXOR(acc32[t], acc32[t], acc32[t])
	}
	for sb := 0; sb < 16; sb++ {
		// pairs of maddubs stay below 2·2·63·127 in int16
		sc := YMM()
		VMOVDQU(Mem{Base: p, Disp: 2048 + 32*sb}, sc)
		for h := 0; h < 2; h++ {
			w0, w1 := YMM(), YMM()
			VMOVDQU(Mem{Base: p, Disp: 128*sb + 64*h}, w0)
			VMOVDQU(Mem{Base: p, Disp: 128*sb + 64*h + 32}, w1)
			for t := 0; t < T; t++ {
				x, z := YMM(), YMM()
				VPBROADCASTD(tokAddr(a, s, s3, t, 16*sb+8*h), x)
				VPMADDUBSW(x, w0, x)
				VPBROADCASTD(tokAddr(a, s, s3, t, 16*sb+8*h+4), z)
				VPMADDUBSW(z, w1, z)
				VPADDW(z, x, x)
				VPMADDWD(sc, x, x)
				VPADDD(x, acc32[t], acc32[t])
			}
		}
	}
	for t := 0; t < T; t++ {
		for i := 0; i < 8; i++ {
			x := YMM()
			VPBROADCASTD(tokAddr(bs, s, s3, t, 4*i), x)
			VPMADDWD(Mem{Base: p, Disp: 2560 + 32*i}, x, x)
			VPSUBD(x, acc32[t], acc32[t])
		}
		da := YMM()
		VBROADCASTSS(tokAddr(d, s, s3, t, 0), da)
		VCVTDQ2PS(acc32[t], acc32[t])
		VMULPS(Mem{Base: p, Disp: 2816}, da, da)
		VFMADD231PS(acc32[t], da, acc[t])
	}
	ADDQ(U32(2848), p)
	ADDQ(U32(256), a)
	ADDQ(U8(4), d)
	ADDQ(U8(32), bs)
	DECQ(nb)
	JNZ(LabelRef(name + "_blk"))
	gemmStore(acc)
	VZEROUPPER()
	RET()
}

// legacyGemm: a 32-element format packed with gb bytes per block: signed
// (Q8_0: |q| at 0, q at 256, d at 512) or unsigned with offset off (u at
// 0, d at 256). Block ib accumulates into lane ib%4 (tail blocks into lane
// 0), as lTile; the four lanes of each token live on the stack, so the
// registers hold the integer sums of four tokens and the block's weights.
func legacyGemm(fmtName string, gb int, signed bool, off int, T int) {
	name := fmt.Sprintf("%sGemmT%d", fmtName, T)
	TEXT(name, NOSPLIT, "func(p *byte, nb uintptr, a *byte, astride uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	twin := "legacyGemmGo(false)"
	if signed {
		twin = "legacyGemmGo(true)"
	}
	Doc(fmt.Sprintf("%s is the AVX2 form of %s for %d activation row(s): for r < 8", name, twin, T),
		"and t < "+fmt.Sprint(T)+fmt.Sprintf(", y[t·ys + r] = the dot product of packed row r (nb blocks of %d", gb),
		"bytes at p) with activation row t (internal Q8_0 layout at a + t·astride).")
	acc := AllocLocal(T * 4 * 32) // [t][lane] 8 floats
	p, nb, a, s, s3 := gemmProlog(T)
	d := GP64()
	MOVQ(nb, d)
	SHLQ(U8(5), d)
	ADDQ(a, d) // activation scales; block sums at d + 4nb
	sv := GP64()
	LEAQ(Mem{Base: d, Index: nb, Scale: 4}, sv)
	dOff := 256
	if signed {
		dOff = 512
	}
	{
		z := YMM()
		VXORPS(z, z, z)
		for i := 0; i < 4*T; i++ {
			VMOVUPS(z, acc.Offset(32*i))
		}
	}
	one := YMM()
	VMOVDQU(ones16, one)
	// block: one block into lane l of every token
	block := func(l int) {
		isum := make([]VecVirtual, T)
		if signed {
			for k := 0; k < 8; k++ {
				wa, wv := YMM(), YMM()
				VMOVDQU(Mem{Base: p, Disp: 32 * k}, wa)
				VMOVDQU(Mem{Base: p, Disp: 256 + 32*k}, wv)
				for t := 0; t < T; t++ {
					x := YMM()
					VPBROADCASTD(tokAddr(a, s, s3, t, 4*k), x)
					VPSIGNB(wv, x, x)
					VPMADDUBSW(x, wa, x)
					VPMADDWD(one, x, x)
					if k == 0 {
						isum[t] = x
					} else {
						VPADDD(x, isum[t], isum[t])
					}
				}
			}
		} else {
			// four maddubs of values < 32 stay below 2^15 in int16
			for h := 0; h < 2; h++ {
				acc16 := make([]VecVirtual, T)
				for k := 4 * h; k < 4*h+4; k++ {
					w := YMM()
					VMOVDQU(Mem{Base: p, Disp: 32 * k}, w)
					for t := 0; t < T; t++ {
						x := YMM()
						VPBROADCASTD(tokAddr(a, s, s3, t, 4*k), x)
						VPMADDUBSW(x, w, x)
						if k == 4*h {
							acc16[t] = x
						} else {
							VPADDW(x, acc16[t], acc16[t])
						}
					}
				}
				for t := 0; t < T; t++ {
					VPMADDWD(one, acc16[t], acc16[t])
					if h == 0 {
						isum[t] = acc16[t]
					} else {
						VPADDD(acc16[t], isum[t], isum[t])
					}
				}
			}
			for t := 0; t < T; t++ {
				o := YMM()
				VPBROADCASTD(tokAddr(sv, s, s3, t, 0), o)
				VPSLLD(U8(log2(off)), o, o)
				VPSUBD(o, isum[t], isum[t])
			}
		}
		for t := 0; t < T; t++ {
			VCVTDQ2PS(isum[t], isum[t])
			da := YMM()
			VBROADCASTSS(tokAddr(d, s, s3, t, 0), da)
			VMULPS(Mem{Base: p, Disp: dOff}, da, da)
			f := YMM()
			VMOVUPS(acc.Offset(32*(4*t+l)), f)
			VFMADD231PS(isum[t], da, f)
			VMOVUPS(f, acc.Offset(32*(4*t+l)))
		}
		ADDQ(U32(gb), p)
		ADDQ(U8(32), a)
		ADDQ(U8(4), d)
		ADDQ(U8(4), sv)
	}
	cnt := GP64()
	MOVQ(nb, cnt)
	SHRQ(U8(2), cnt)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_g4")
	for l := 0; l < 4; l++ {
		block(l)
	}
	DECQ(cnt)
	JNZ(LabelRef(name + "_g4"))
	Label(name + "_tail")
	ANDQ(U8(3), nb)
	JZ(LabelRef(name + "_store"))
	Label(name + "_t1")
	block(0)
	DECQ(nb)
	JNZ(LabelRef(name + "_t1"))
	Label(name + "_store")
	// ((l0 + 0) + (l2 + 0)) + ((l1 + 0) + (l3 + 0)), as hsum8 of lTile
	y := Load(Param("y"), GP64())
	ys := Load(Param("ys"), GP64())
	SHLQ(U8(2), ys)
	z := YMM()
	VXORPS(z, z, z)
	for t := 0; t < T; t++ {
		l := make([]VecVirtual, 4)
		for i := range l {
			l[i] = YMM()
			VADDPS(acc.Offset(32*(4*t+i)), z, l[i])
		}
		VADDPS(l[2], l[0], l[0])
		VADDPS(l[3], l[1], l[1])
		VADDPS(l[1], l[0], l[0])
		VMOVUPS(l[0], Mem{Base: y})
		if t+1 < T {
			ADDQ(ys, y)
		}
	}
	VZEROUPPER()
	RET()
}
