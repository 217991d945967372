package kernels

import (
	"math"
	"testing"
)

// TestMatrixViews: products with F16/F32 views of Go slices equal plain
// float dot products of the same values.
func TestMatrixViews(t *testing.T) {
	rows, cols, n := 5, 37, 3
	w16 := make([]uint16, rows*cols)
	w32 := make([]float32, rows*cols)
	for i := range w32 {
		w32[i] = float32(math.Sin(float64(i)))
		w16[i] = F32ToF16(w32[i])
	}
	x := make([]float32, n*cols)
	for i := range x {
		x[i] = float32(math.Cos(float64(3 * i)))
	}
	p := NewPool(2)
	defer p.Close()
	var ws Workspace
	for _, c := range []struct {
		m Matrix
		w func(i int) float32
	}{
		{F16Matrix(rows, cols, w16), func(i int) float32 { return F16ToF32(w16[i]) }},
		{F32Matrix(rows, cols, w32), func(i int) float32 { return w32[i] }},
	} {
		y := make([]float32, n*rows)
		if err := MatMul(p, &ws, PrecisionF32, &c.m, x, n, y); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i++ {
			for r := 0; r < rows; r++ {
				var want float64
				for k := 0; k < cols; k++ {
					want += float64(c.w(r*cols+k)) * float64(x[i*cols+k])
				}
				if d := math.Abs(float64(y[i*rows+r]) - want); d > 1e-5 {
					t.Errorf("%v [%d,%d]: got %g, want %g", c.m.Type, i, r, y[i*rows+r], want)
				}
			}
		}
	}
}
