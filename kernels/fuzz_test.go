package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzMatMul is a differential fuzz test: for a fuzzed format, shape,
// batch, precision and seed, every output of MatMul (with the production
// implementation and with the portable Go one) must equal the reference
// quant.VecDot within refDot's bound.
func FuzzMatMul(f *testing.F) {
	f.Add(uint8(10), uint8(3), uint8(1), uint8(1), uint8(0), uint64(1))
	f.Add(uint8(3), uint8(7), uint8(9), uint8(5), uint8(2), uint64(2))
	f.Add(uint8(1), uint8(1), uint8(33), uint8(17), uint8(1), uint64(3))
	f.Fuzz(func(t *testing.T, ti, rows, blocks, n, prec uint8, seed uint64) {
		typ := weightTypes[int(ti)%len(weightTypes)]
		bs := typ.BlockSize()
		cols := (1 + int(blocks)%24) * bs
		if bs == 1 {
			cols = 1 + int(blocks)
		}
		nr, nn := 1+int(rows)%40, 1+int(n)%20
		r := rand.New(rand.NewPCG(seed, uint64(typ)))
		w := randMatrix(t, r, typ, nr, cols, int(seed%4))
		x := randFloats(r, nn*cols, float32(math.Pow(2, float64(int(seed%16)-8))))
		p := Precision(int(prec) % 3)
		var ws Workspace
		y := make([]float32, nn*nr)
		if err := MatMul(nil, &ws, p, &w, x, nn, y); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < nn; i++ {
			for row := 0; row < nr; row++ {
				ref, bound := refDot(t, typ, p, w.Row(row), x[i*cols:(i+1)*cols])
				if got := y[i*nr+row]; !(math.Abs(float64(got-ref)) <= float64(bound)) {
					t.Fatalf("%s [%d,%d] n=%d prec=%d: y[%d,%d] = %g, reference %g (bound %g)", typ, nr, cols, nn, p, i, row, got, ref, bound)
				}
			}
		}
	})
}
