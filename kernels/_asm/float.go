package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Kernels for float weights against float32 activations: each token keeps
// two 8-lane accumulators over 16-element steps (the same for every T, so
// a token's result does not depend on how many are processed together).

type fq struct {
	name  string
	twin  string
	esize int
	load  func(m Mem) VecVirtual // 8 weights at m as float32
}

func floatKernels() {
	for _, q := range []fq{
		{"f16", "floatTileGo(widenF16)", 2, func(m Mem) VecVirtual {
			y := YMM()
			VCVTPH2PS(m, y)
			return y
		}},
		{"bf16", "floatTileGo(widenBF16)", 2, func(m Mem) VecVirtual {
			y := YMM()
			VPMOVZXWD(m, y)
			VPSLLD(U8(16), y, y)
			return y
		}},
		{"f32", "floatTileGo(widenF32)", 4, func(m Mem) VecVirtual {
			y := YMM()
			VMOVUPS(m, y)
			return y
		}},
	} {
		for T := 1; T <= 4; T++ {
			fKernel(q, T)
		}
	}
}

func fKernel(q fq, T int) {
	name := fmt.Sprintf("%sT%d", q.name, T)
	TEXT(name, NOSPLIT, "func(w *byte, wstride, nr uintptr, x *float32, xs, n16 uintptr, y *float32, ys uintptr)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s is the AVX2 form of %s for %d activation row(s) over the first", name, q.twin, T),
		"16·n16 columns: for r < nr and t < "+fmt.Sprint(T)+", y[t·ys + r] = Σ_c w[r, c]·x[t·xs + c]",
		fmt.Sprintf("(weights of %d bytes at w + r·wstride), in two fused 8-lane sums per row.", q.esize))
	wrow := AllocLocal(8)
	yrow := AllocLocal(8)
	rcnt := AllocLocal(8)
	MOVQ(Load(Param("w"), GP64()), wrow)
	MOVQ(Load(Param("y"), GP64()), yrow)
	MOVQ(Load(Param("nr"), GP64()), rcnt)

	Label(name + "_row")
	acc := make([][]VecVirtual, T)
	for t := range acc {
		acc[t] = make([]VecVirtual, 2)
		for u := range acc[t] {
			acc[t][u] = YMM()
			VXORPS(acc[t][u], acc[t][u], acc[t][u])
		}
	}
	w := GP64()
	MOVQ(wrow, w)
	x, xs, n := GP64(), GP64(), GP64()
	Load(Param("x"), x)
	Load(Param("xs"), xs)
	SHLQ(U8(2), xs)
	Load(Param("n16"), n)
	var xs3 GPVirtual
	if T == 4 {
		xs3 = GP64()
		LEAQ(Mem{Base: xs, Index: xs, Scale: 2}, xs3)
	}
	Label(name + "_k")
	for u := 0; u < 2; u++ {
		wv := q.load(Mem{Base: w, Disp: 8 * q.esize * u})
		for t := 0; t < T; t++ {
			m := Mem{Base: x, Disp: 32 * u}
			switch t {
			case 1:
				m = Mem{Base: x, Index: xs, Scale: 1, Disp: 32 * u}
			case 2:
				m = Mem{Base: x, Index: xs, Scale: 2, Disp: 32 * u}
			case 3:
				m = Mem{Base: x, Index: xs3, Scale: 1, Disp: 32 * u}
			}
			VFMADD231PS(m, wv, acc[t][u])
		}
	}
	ADDQ(U32(16*q.esize), w)
	ADDQ(U32(64), x)
	DECQ(n)
	JNZ(LabelRef(name + "_k"))
	sums := make([]VecVirtual, T)
	for t := range acc {
		VADDPS(acc[t][1], acc[t][0], acc[t][0])
		sums[t] = acc[t][0]
	}
	storeRowSums(name, sums, yrow, wrow, rcnt)
	VZEROUPPER()
	RET()
}
