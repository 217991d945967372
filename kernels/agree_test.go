package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/impl"
)

// TestImplementationsAgree checks that every SIMD implementation gives the
// same outputs as the portable Go kernels, which perform the same float
// operations in the same order: they must agree bit for bit except where
// fma32's double rounding differs from a single float32 rounding (then by
// one unit in the last place of an intermediate, bounded here by 2⁻²⁰ of
// the output's magnitude; such cases are counted and must be rare).
func TestImplementationsAgree(t *testing.T) {
	variants := impl.Variants("kernels")
	if len(variants) < 2 {
		t.Skip("no SIMD implementation on this CPU")
	}
	pool := NewPool(2)
	defer pool.Close()
	for _, typ := range weightTypes {
		for rep := 0; rep < 4; rep++ {
			agreeOnce(t, pool, variants, typ, uint64(rep), Precision(rep%3))
		}
	}
}

func agreeOnce(t *testing.T, pool *Pool, variants []impl.Variant, typ dtype.Type, seed uint64, prec Precision) {
	{
		r := rand.New(rand.NewPCG(uint64(typ), 11+seed))
		bs := max(typ.BlockSize(), 32)
		cols := bs * (1 + r.IntN(2048/bs))
		if !typ.IsQuantized() {
			cols += r.IntN(16)
		}
		w := randMatrix(t, r, typ, 67, cols, 1)
		n := 11
		x := randFloats(r, n*cols, 1)
		outs := make([][]float32, len(variants))
		for k, v := range variants {
			restore, err := impl.Select("kernels", v.Select...)
			if err != nil {
				t.Fatal(err)
			}
			var ws Workspace
			outs[k] = make([]float32, n*w.Rows)
			err = MatMul(pool, &ws, prec, &w, x, n, outs[k])
			restore()
			if err != nil {
				t.Fatal(err)
			}
		}
		for k := 1; k < len(variants); k++ {
			diff := 0
			for i, want := range outs[0] {
				got := outs[k][i]
				if math.Float32bits(got) == math.Float32bits(want) {
					continue
				}
				diff++
				_, bound := refDot(t, typ, prec, w.Row(i%w.Rows), x[i/w.Rows*cols:(i/w.Rows+1)*cols])
				if math.Abs(float64(got-want)) > float64(bound)/64 {
					t.Errorf("%s cols %d: %s output %d = %g, Go %g", typ, cols, variants[k].Name, i, got, want)
				}
			}
			if diff*100 > len(outs[0]) {
				t.Errorf("%s cols %d: %s differs from Go in %d of %d outputs", typ, cols, variants[k].Name, diff, len(outs[0]))
			}
		}
	}
}
