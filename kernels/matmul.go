package kernels

import (
	"fmt"
	"math"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// Workspace is scratch memory reused across kernel calls so the per-token path
// does not allocate. The zero value is ready to use. A Workspace must not be
// used by two calls at once.
type Workspace struct {
	act   []byte      // activations converted to the weight's vec-dot type, [n, actRowBytes]
	local [][]float32 // per-worker float scratch
	mu    sync.Mutex
}

func (ws *Workspace) actBuf(n int) []byte {
	if cap(ws.act) < n {
		ws.act = make([]byte, n)
	}
	return ws.act[:n]
}

// Local returns a per-worker float32 scratch slice of length n for worker slot
// i (0 <= i < pool threads). It grows as needed and is reused across calls.
func (ws *Workspace) Local(i, n int) []float32 {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for len(ws.local) <= i {
		ws.local = append(ws.local, nil)
	}
	if cap(ws.local[i]) < n {
		ws.local[i] = make([]float32, n)
	}
	return ws.local[i][:n]
}

// MatMul computes y = x · wᵀ: y[i, r] = Σ_c w[r, c] · x[i, c] for n rows of
// activations x [n, w.Cols], writing y [n, w.Rows]. With n == 1 it is the
// decode matrix-vector product. Activations are first converted to
// w.ActType(prec) (for block-quantized weights: Q8_0/Q8_1/Q8_K per block, as
// ggml's mul_mat does), then each output is one vec-dot. Output rows are split
// across the pool. It returns an error if the shapes do not match.
func MatMul(p *Pool, ws *Workspace, prec Precision, w *Matrix, x []float32, n int, y []float32) error {
	if n < 0 || len(x) < n*w.Cols || len(y) < n*w.Rows {
		return fmt.Errorf("kernels: matmul [%d, %d]·[%d, %d]ᵀ: x has %d values, y has %d", n, w.Cols, w.Rows, w.Cols, len(x), len(y))
	}
	if n == 0 || w.Rows == 0 {
		return nil
	}
	act := w.ActType(prec)
	if act == dtype.F32 {
		matmulF32Act(p, w, x, n, y)
		return nil
	}
	arb64, err := act.RowBytes(int64(w.Cols))
	if err != nil {
		return fmt.Errorf("kernels: matmul activations: %w", err)
	}
	arb := int(arb64)
	abuf := ws.actBuf(arb * n)
	var qerr error
	var qmu sync.Mutex
	p.For(n, 1, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if err := quant.QuantizeActivations(w.Type, x[i*w.Cols:(i+1)*w.Cols], abuf[i*arb:(i+1)*arb]); err != nil {
				qmu.Lock()
				qerr = err
				qmu.Unlock()
			}
		}
	})
	if qerr != nil {
		return fmt.Errorf("kernels: matmul activations: %w", qerr)
	}
	var derr error
	p.For(w.Rows, 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := w.Row(r)
			for i := 0; i < n; i++ {
				v, err := quant.VecDot(w.Type, w.Cols, row, abuf[i*arb:(i+1)*arb])
				if err != nil {
					qmu.Lock()
					derr = err
					qmu.Unlock()
					return
				}
				y[i*w.Rows+r] = v
			}
		}
	})
	if derr != nil {
		return fmt.Errorf("kernels: matmul: %w", derr)
	}
	return nil
}

// matmulF32Act handles float weights (F32, F16, BF16) with float32 activations.
func matmulF32Act(p *Pool, w *Matrix, x []float32, n int, y []float32) {
	cols := w.Cols
	p.For(w.Rows, 4, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := w.Row(r)
			for i := 0; i < n; i++ {
				y[i*w.Rows+r] = dotRowF32(w.Type, row, x[i*cols:(i+1)*cols])
			}
		}
	})
}

// dotRowF32 is Σ_c w[c]·x[c] for one float weight row, accumulated in float64.
func dotRowF32(t dtype.Type, row []byte, x []float32) float32 {
	var s float64
	switch t {
	case dtype.F32:
		for c, xv := range x {
			b := row[4*c : 4*c+4]
			wv := math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
			s += float64(wv * xv)
		}
	case dtype.F16:
		for c, xv := range x {
			s += float64(F16ToF32(uint16(row[2*c])|uint16(row[2*c+1])<<8) * xv)
		}
	case dtype.BF16:
		for c, xv := range x {
			h := uint16(row[2*c]) | uint16(row[2*c+1])<<8
			s += float64(math.Float32frombits(uint32(h)<<16) * xv)
		}
	}
	return float32(s)
}

// DequantizeRow writes the Cols values of row r of w into dst as float32.
func DequantizeRow(w *Matrix, r int, dst []float32) error {
	return quant.Dequantize(w.Type, w.Row(r), dst[:w.Cols])
}
