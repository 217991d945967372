package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// checkMatMul runs MatMul on w and n random activation rows (placed at float
// offset xoff) and compares every output with the reference dot product of
// quant.VecDot within refDot's bound. Outputs are guarded by NaN bands and
// the activations must not change.
func checkMatMul(t *testing.T, p *Pool, ws *Workspace, r *rand.Rand, w *Matrix, prec Precision, n, xoff int) {
	t.Helper()
	xbuf := randFloats(r, xoff+n*w.Cols, 1)
	x := xbuf[xoff:]
	xcopy := slices.Clone(x)
	y, checkGuard := guarded(t, n*w.Rows, 19)
	if err := MatMul(p, ws, prec, w, x, n, y); err != nil {
		t.Fatal(err)
	}
	checkGuard()
	if !slices.Equal(x, xcopy) {
		t.Fatal("MatMul modified its activations")
	}
	bad := 0
	for i := 0; i < n; i++ {
		for row := 0; row < w.Rows; row++ {
			ref, bound := refDot(t, w.Type, prec, w.Row(row), x[i*w.Cols:(i+1)*w.Cols])
			got := y[i*w.Rows+row]
			if !(math.Abs(float64(got-ref)) <= float64(bound)) {
				if bad < 5 {
					t.Errorf("%s [%d,%d] n=%d prec=%d: y[%d,%d] = %g, reference %g (|Δ| %.3g > bound %.3g)",
						w.Type, w.Rows, w.Cols, n, prec, i, row, got, ref, math.Abs(float64(got-ref)), bound)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d outputs outside the bound", bad, n*w.Rows)
	}
}

// TestMatMulLengths checks every weight type at every row length that is a
// multiple of its block size up to 4096 (2048 for the 32-blocks beyond 1024,
// in steps), with odd row counts, n = 1..3, misaligned weights and
// activations, for every implementation.
func TestMatMulLengths(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		var ws Workspace
		for _, typ := range weightTypes {
			t.Run(typ.String(), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(typ), 1))
				bs := typ.BlockSize()
				if bs == 1 {
					bs = 32 // float types: every multiple of 32, plus odd lengths below
				}
				var lengths []int
				for c := bs; c <= 4096; c += bs {
					if c <= 1024 || c%(8*bs) == 0 || c%256 == 0 {
						lengths = append(lengths, c)
					}
				}
				if !typ.IsQuantized() {
					lengths = append(lengths, 1, 2, 3, 5, 7, 9, 15, 17, 31, 33, 63, 65, 100, 257, 1001)
				}
				for i, cols := range lengths {
					rows := []int{1, 3, 5, 7}[i%4]
					w := randMatrix(t, r, typ, rows, cols, i%3)
					for _, prec := range []Precision{PrecisionAuto, PrecisionF32, PrecisionGGML} {
						checkMatMul(t, nil, &ws, r, &w, prec, 1+i%3, i%2)
					}
				}
			})
		}
	})
}

// TestMatMulTokens checks n = 1..17 and larger batches (tiles of several
// activation rows per weight pass), single-threaded and on a pool.
func TestMatMulTokens(t *testing.T) {
	pool := NewPool(3)
	defer pool.Close()
	forEachImpl(t, func(t *testing.T) {
		var ws Workspace
		for _, typ := range weightTypes {
			t.Run(typ.String(), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(typ), 2))
				cols := 512
				if typ.BlockSize() == 32 {
					cols = 160
				}
				ns := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 33, 70}
				for i, n := range ns {
					rows := []int{1, 2, 5, 9, 13, 37}[i%6]
					w := randMatrix(t, r, typ, rows, cols, 1)
					var p *Pool
					if i%2 == 1 {
						p = pool
					}
					checkMatMul(t, p, &ws, r, &w, Precision(i%3), n, 3)
				}
			})
		}
	})
}

// TestMatMulDeterministic checks that an output does not depend on how the
// work is split: the same activation row gives bit-identical results alone,
// inside a batch, and on any number of threads.
func TestMatMulDeterministic(t *testing.T) {
	pool := NewPool(2)
	defer pool.Close()
	forEachImpl(t, func(t *testing.T) {
		var ws Workspace
		for _, typ := range weightTypes {
			r := rand.New(rand.NewPCG(uint64(typ), 3))
			w := randMatrix(t, r, typ, 301, 1024, 0)
			n := 75
			x := randFloats(r, n*w.Cols, 1)
			yBatch := make([]float32, n*w.Rows)
			if err := MatMul(pool, &ws, PrecisionGGML, &w, x, n, yBatch); err != nil {
				t.Fatal(err)
			}
			y1 := make([]float32, w.Rows)
			for _, i := range []int{0, 7, 8, 63, 64, 74} {
				if err := MatMul(nil, &ws, PrecisionGGML, &w, x[i*w.Cols:(i+1)*w.Cols], 1, y1); err != nil {
					t.Fatal(err)
				}
				for row := range y1 {
					if math.Float32bits(y1[row]) != math.Float32bits(yBatch[i*w.Rows+row]) {
						t.Fatalf("%s: token %d row %d: %g alone, %g in a batch of %d", typ, i, row, y1[row], yBatch[i*w.Rows+row], n)
					}
				}
			}
		}
	})
}

// TestMatMulErrors checks that bad shapes are errors, not panics.
func TestMatMulErrors(t *testing.T) {
	var ws Workspace
	w, err := NewMatrix(dtype.Q4_K, 2, 256, make([]byte, 2*144))
	if err != nil {
		t.Fatal(err)
	}
	y := make([]float32, 2)
	if err := MatMul(nil, &ws, PrecisionF32, &w, make([]float32, 255), 1, y); err == nil {
		t.Error("short x: no error")
	}
	if err := MatMul(nil, &ws, PrecisionF32, &w, make([]float32, 256), 1, y[:1]); err == nil {
		t.Error("short y: no error")
	}
	bad := w
	bad.Data = bad.Data[:100]
	if err := MatMul(nil, &ws, PrecisionF32, &bad, make([]float32, 256), 1, y); err == nil {
		t.Error("short data: no error")
	}
	bad = w
	bad.Type = dtype.Q8_K
	if err := MatMul(nil, &ws, PrecisionF32, &bad, make([]float32, 256), 1, y); err == nil {
		t.Error("Q8_K weights: no error")
	}
	if _, err := NewMatrix(dtype.Q4_K, 1, 100, make([]byte, 144)); err == nil {
		t.Error("cols not a multiple of 256: no error")
	}
}

// TestActivationsMatchQuant checks the internal activation quantizers (each
// implementation) against quant.QuantizeActivations value for value.
func TestActivationsMatchQuant(t *testing.T) {
	forEachImpl(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		for _, typ := range []dtype.Type{dtype.Q8_0, dtype.Q4_1, dtype.Q4_K, dtype.F16, dtype.BF16} {
			for _, cols := range []int{256, 512, 2048, 7168} {
				x := randFloats(r, cols, float32(math.Pow(10, float64(r.IntN(9)-4))))
				w := Matrix{Type: typ, Cols: cols}
				k := actKindOf(&w, PrecisionGGML)
				al := newActLayout(k, cols)
				dst := make([]byte, al.stride)
				fdst := make([]float32, cols)
				quantizeAct(k, x, dst, fdst)
				at := w.ActType(PrecisionGGML)
				rb, _ := at.RowBytes(int64(cols))
				ref := make([]byte, rb)
				if err := quantizeActivationsRef(typ, x, ref); err != nil {
					t.Fatal(err)
				}
				if err := compareAct(k, cols, dst, fdst, ref); err != nil {
					t.Fatalf("%s cols %d: %v", typ, cols, err)
				}
			}
		}
	})
}

// compareAct compares the internal layout with ggml's block layout.
func compareAct(k actKind, cols int, dst []byte, fdst []float32, ref []byte) error {
	f16 := func(b []byte) float32 { return f16Table[uint16(b[0])|uint16(b[1])<<8] }
	f32 := func(b []byte) float32 {
		return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
	}
	switch k {
	case actF16R:
		for i := 0; i < cols; i++ {
			if math.Float32bits(fdst[i]) != math.Float32bits(f16(ref[2*i:])) {
				return fmt.Errorf("value %d: %g, want %g", i, fdst[i], f16(ref[2*i:]))
			}
		}
	case actBF16R:
		for i := 0; i < cols; i++ {
			want := math.Float32frombits(uint32(ref[2*i])<<16 | uint32(ref[2*i+1])<<24)
			if math.Float32bits(fdst[i]) != math.Float32bits(want) {
				return fmt.Errorf("value %d: %g, want %g", i, fdst[i], want)
			}
		}
	case actQ8_0, actQ8_1:
		nb, bb, qo := cols/32, 34, 2
		if k == actQ8_1 {
			bb, qo = 36, 4
		}
		for ib := 0; ib < nb; ib++ {
			b := ref[ib*bb:]
			if f32(dst[cols+4*ib:]) != f16(b) {
				return fmt.Errorf("block %d: d %g, want %g", ib, f32(dst[cols+4*ib:]), f16(b))
			}
			if k == actQ8_1 && f32(dst[cols+4*nb+4*ib:]) != f16(b[2:]) {
				return fmt.Errorf("block %d: s %g, want %g", ib, f32(dst[cols+4*nb+4*ib:]), f16(b[2:]))
			}
			if !slices.Equal(dst[32*ib:32*ib+32], b[qo:qo+32]) {
				return fmt.Errorf("block %d: quants differ", ib)
			}
			if k == actQ8_0 {
				var sum int32
				for _, q := range dst[32*ib : 32*ib+32] {
					sum += int32(int8(q))
				}
				if got := int32(binary.LittleEndian.Uint32(dst[cols+4*nb+4*ib:])); got != sum {
					return fmt.Errorf("block %d: Σq %d, want %d", ib, got, sum)
				}
			}
		}
	case actQ8_K:
		nb := cols / 256
		for ib := 0; ib < nb; ib++ {
			b := ref[ib*292:]
			if math.Float32bits(f32(dst[cols+4*ib:])) != math.Float32bits(f32(b)) {
				return fmt.Errorf("block %d: d %g, want %g", ib, f32(dst[cols+4*ib:]), f32(b))
			}
			if !slices.Equal(dst[256*ib:256*ib+256], b[4:260]) {
				return fmt.Errorf("block %d: quants differ", ib)
			}
			if !slices.Equal(dst[cols+4*nb+32*ib:cols+4*nb+32*ib+32], b[260:292]) {
				return fmt.Errorf("block %d: bsums differ", ib)
			}
		}
	}
	return nil
}
