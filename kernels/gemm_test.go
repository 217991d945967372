package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// gemmTypes are the formats with a packed (GEMM) path.
func gemmTypes() []dtype.Type {
	var ts []dtype.Type
	for _, t := range weightTypes {
		if traitsTab[t].gemm != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// packedValue decodes element e (< block size) of row r of packed block p
// of format t back to the float32 weight it stands for, from the packed
// bytes alone.
func packedValue(t dtype.Type, p []byte, r, e int) float32 {
	i16 := func(o int) int32 { return int32(int16(binary.LittleEndian.Uint16(p[o:]))) }
	f32 := func(o int) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(p[o:])) }
	switch t {
	case dtype.Q4_K:
		j, k := e/32, e%32/4
		q := int32(p[256*j+32*k+4*r+e%4])
		sc := i16(2048 + 32*j + 4*r)
		m := i16(2304 + 32*(j/2) + 4*r + 2*(j%2))
		d, nd := f32(2432+4*r), f32(2464+4*r)
		return d*float32(sc*q) + nd*float32(m)
	case dtype.Q6_K:
		s, k := e/16, e%16/4
		q := int32(p[128*s+32*k+4*r+e%4])
		sc := i16(2048 + 32*s + 4*r)
		off := i16(2560 + 32*(s/2) + 4*r + 2*(s%2))
		if off != 32*sc {
			return float32(math.NaN())
		}
		return f32(2816+4*r) * float32(sc*(q-32))
	case dtype.Q8_0:
		k := e / 4
		q := int8(p[256+32*k+4*r+e%4])
		if aq := p[32*k+4*r+e%4]; int(aq) != int(math.Abs(float64(q))) {
			return float32(math.NaN())
		}
		return f32(512+4*r) * float32(q)
	case dtype.Q5_0, dtype.Q4_0:
		off := int32(16)
		if t == dtype.Q4_0 {
			off = 8
		}
		return f32(256+4*r) * float32(int32(p[32*(e/4)+4*r+e%4])-off)
	}
	panic("packedValue: " + t.String())
}

// TestPackLayouts checks every packer against the reference dequantizer:
// each packed element must stand for exactly the weight quant.Dequantize
// gives (same float32 arithmetic), and rows beyond nr must be zero.
func TestPackLayouts(t *testing.T) {
	for _, typ := range gemmTypes() {
		g := traitsTab[typ].gemm
		r := rand.New(rand.NewPCG(uint64(typ), 21))
		bs := typ.BlockSize()
		for _, nr := range []int{8, 5, 1} {
			nb := 3
			w := randMatrix(t, r, typ, nr, nb*bs, 1)
			packed := make([]byte, nb*g.groupBytes)
			for i := range packed {
				packed[i] = 0xa5 // stale bytes must be overwritten
			}
			g.pack(w.Data, w.RowBytes, nr, nb, packed)
			want := make([]float32, w.Cols)
			for row := 0; row < 8; row++ {
				if row < nr {
					if err := quant.Dequantize(typ, w.Row(row), want); err != nil {
						t.Fatal(err)
					}
				} else {
					clear(want)
				}
				for b := 0; b < nb; b++ {
					p := packed[b*g.groupBytes : (b+1)*g.groupBytes]
					for e := 0; e < bs; e++ {
						got := packedValue(typ, p, row, e)
						if math.Float32bits(got) != math.Float32bits(want[b*bs+e]) && !(got == 0 && want[b*bs+e] == 0) {
							t.Fatalf("%s nr=%d: row %d element %d: packed %g, dequantized %g", typ, nr, row, b*bs+e, got, want[b*bs+e])
						}
					}
				}
			}
		}
	}
}

// TestGemmKernels runs each packed kernel (every implementation) on 1..9
// activation rows, with full and partial row groups, and compares every
// output with the reference dot product within refDot's bound and with the
// portable Go kernel bit for bit.
func TestGemmKernels(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		for _, typ := range gemmTypes() {
			g := traitsTab[typ].gemm
			r := rand.New(rand.NewPCG(uint64(typ), 22))
			bs := max(typ.BlockSize(), 32)
			for _, nb := range []int{1, 2, 3, 4, 5, 7, 9} {
				for nt := 1; nt <= 9; nt++ {
					nr := 8 - nt%4 // 8, 7, 6, 5 rows
					cols := nb * bs
					w := randMatrix(t, r, typ, nr, cols, nt%3)
					packed := make([]byte, nb*g.groupBytes)
					g.pack(w.Data, w.RowBytes, nr, nb, packed)
					al := newActLayout(actKindOf(&w, PrecisionGGML), cols)
					x := randFloats(r, nt*cols, 1)
					a := make([]byte, nt*al.stride)
					for i := 0; i < nt; i++ {
						quantizeAct(al.kind, x[i*cols:(i+1)*cols], a[i*al.stride:(i+1)*al.stride], nil)
					}
					ys := 11
					y, check := guarded(t, (nt-1)*ys+8, 7)
					g.kernel()(packed, nb, a, &al, nt, y, ys)
					check()
					yg := make([]float32, len(y))
					g.goKernel(packed, nb, a, &al, nt, yg, ys)
					for i := 0; i < nt; i++ {
						for row := 0; row < 8; row++ {
							got := y[i*ys+row]
							if math.Float32bits(got) != math.Float32bits(yg[i*ys+row]) {
								t.Fatalf("%s nb=%d nt=%d: y[%d,%d] = %g, Go kernel %g", typ, nb, nt, i, row, got, yg[i*ys+row])
							}
							if row >= nr {
								if got != 0 {
									t.Fatalf("%s: padding row %d gives %g", typ, row, got)
								}
								continue
							}
							ref, bound := refDot(t, typ, PrecisionGGML, w.Row(row), x[i*cols:(i+1)*cols])
							if !(math.Abs(float64(got-ref)) <= float64(bound)) {
								t.Fatalf("%s nb=%d nt=%d: y[%d,%d] = %g, reference %g (bound %g)", typ, nb, nt, i, row, got, ref, bound)
							}
						}
					}
				}
			}
		}
	})
}

// TestMatMulPathsAgree checks that the packed path (n >= gemmMinTokens),
// the tile kernels (small n) and the decode kernels (n = 1, eight rows at a
// time) give bit-identical outputs for the same activation row, for row
// counts that are and are not multiples of 8 and row lengths on both
// sides of the decode kernels' chunk of super-blocks.
func TestMatMulPathsAgree(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	forEachImpl(t, func(t *testing.T) {
		var ws Workspace
		for _, typ := range weightTypes {
			r := rand.New(rand.NewPCG(uint64(typ), 23))
			bs := max(typ.BlockSize(), 32)
			for _, sh := range [][2]int{{8, 1}, {21, 3}, {64, 17}, {40, 33}, {9, 2}} {
				rows, cols := sh[0], sh[1]*bs
				if bs == 32 {
					cols = sh[1] * 256
				}
				w := randMatrix(t, r, typ, rows, cols, 0)
				n := gemmMinTokens + 3
				x := randFloats(r, n*cols, 1)
				yb := make([]float32, n*rows)
				if err := MatMul(pool, &ws, PrecisionGGML, &w, x, n, yb); err != nil {
					t.Fatal(err)
				}
				for _, m := range []int{1, 2, 5} {
					ys := make([]float32, m*rows)
					for i0 := 0; i0+m <= n; i0 += 7 {
						if err := MatMul(nil, &ws, PrecisionGGML, &w, x[i0*cols:(i0+m)*cols], m, ys); err != nil {
							t.Fatal(err)
						}
						for k := range ys {
							if math.Float32bits(ys[k]) != math.Float32bits(yb[i0*rows+k]) {
								t.Fatalf("%s [%d,%d]: token %d row %d: %g in a batch of %d, %g in a batch of %d",
									typ, rows, cols, i0+k/rows, k%rows, ys[k], m, yb[i0*rows+k], n)
							}
						}
					}
				}
			}
		}
	})
}

// TestMatMulDecode checks n = 1 for every type at row counts around the
// eight-rows kernels' groups and row lengths beyond their chunk, against
// the reference within the bound.
func TestMatMulDecode(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		var ws Workspace
		for _, typ := range weightTypes {
			r := rand.New(rand.NewPCG(uint64(typ), 24))
			bs := max(typ.BlockSize(), 32)
			for i, rows := range []int{8, 15, 16, 24, 33} {
				cols := bs * []int{1, 16, 17, 40, 3}[i]
				w := randMatrix(t, r, typ, rows, cols, i%2)
				checkMatMul(t, nil, &ws, r, &w, PrecisionGGML, 1, i%2)
			}
		}
	})
}

// TestGemmSplit checks the packed path's work split: items of several row
// groups, token blocks and ragged last groups give every output once and
// unchanged, whatever the pool size.
func TestGemmSplit(t *testing.T) {
	for _, typ := range gemmTypes() {
		r := rand.New(rand.NewPCG(uint64(typ), 25))
		bs := typ.BlockSize()
		w := randMatrix(t, r, typ, 203, 12*bs, 0)
		n := 70
		x := randFloats(r, n*w.Cols, 1)
		var want []float32
		for _, threads := range []int{1, 2, 3} {
			pool := NewPool(threads)
			var ws Workspace
			y, check := guarded(t, n*w.Rows, 5)
			if err := MatMul(pool, &ws, PrecisionGGML, &w, x, n, y); err != nil {
				t.Fatal(err)
			}
			check()
			pool.Close()
			if want == nil {
				want = slices.Clone(y)
				continue
			}
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s: %d threads: output %d = %g, 1 thread %g", typ, threads, i, y[i], want[i])
				}
			}
		}
	}
}
