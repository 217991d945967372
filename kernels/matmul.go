package kernels

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dseek-ai/dseek/quant"
)

// Workspace is scratch memory reused across kernel calls so the per-token path
// does not allocate. The zero value is ready to use. A Workspace must not be
// used by two calls at once.
type Workspace struct {
	act   []byte      // activations in the internal layout, [n, stride]
	fact  []float32   // rounded float activations, [n, cols]
	local [][]float32 // per-worker float scratch
	mu    sync.Mutex
	mm    matmulJob
	gj    gemmJob
	qj    quantJob
	packs []packScratch // per-worker packed weights (gemmJob)
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

// Work split. A work item is rowChunk weight rows × tokChunk activation rows;
// items are handed out dynamically so both cores finish together. Inside an
// item the kernel walks groups of maxTileTokens activation rows (held in L1)
// over the item's weight rows (held in L1/L2).
const (
	tokBlockBytes  = 160 << 10 // activation bytes per work item (prefill), L2-resident
	itemsPerWorker = 8         // aim for this many items per thread (decode)
	minItemBytes   = 16 << 10  // but no item smaller than this many weight bytes
	serialBytes    = 48 << 10  // below this much weight×token work, no threads
	maxItemBytes   = 256 << 10 // prefill: the weight rows of an item stay in L2
)

// MatMul computes y = x · wᵀ: y[i, r] = Σ_c w[r, c] · x[i, c] for n rows of
// activations x [n, w.Cols], writing y [n, w.Rows]. With n == 1 it is the
// decode matrix-vector product. Activations are first converted to
// w.ActType(prec) (for block-quantized weights: Q8_0/Q8_1/Q8_K per block,
// with the values of ggml's from_float, quant.QuantizeActivations), then
// each output is the dot product ggml's vec_dot computes
// (quant.VecDot): integer block sums are exact, float sums may be
// accumulated in a different order (see the package doc for the bound).
// Work is split over the pool by rows and tokens. It returns an error if the
// shapes or the matrix are inconsistent or the type is not supported.
func MatMul(p *Pool, ws *Workspace, prec Precision, w *Matrix, x []float32, n int, y []float32) error {
	if n < 0 || len(x) < n*w.Cols || len(y) < n*w.Rows {
		return fmt.Errorf("kernels: matmul [%d, %d]·[%d, %d]ᵀ: x has %d values, y has %d", n, w.Cols, w.Rows, w.Cols, len(x), len(y))
	}
	if err := w.check(); err != nil {
		return err
	}
	if n == 0 || w.Rows == 0 {
		return nil
	}
	tile := tileFor(w.Type)
	if tile == nil {
		return fmt.Errorf("kernels: matmul: tensor type %s is not supported", w.Type)
	}
	j := &ws.mm
	j.al = newActLayout(actKindOf(w, prec), w.Cols)
	j.a, j.x = nil, x
	switch j.al.kind {
	case actF32:
	case actF16R, actBF16R:
		if cap(ws.fact) < n*w.Cols {
			ws.fact = make([]float32, n*w.Cols)
		}
		j.x = ws.fact[:n*w.Cols]
		quantizeRows(p, ws, &j.al, x, n, nil, j.x)
	default:
		if cap(ws.act) < n*j.al.stride {
			ws.act = make([]byte, n*j.al.stride)
		}
		j.a = ws.act[:n*j.al.stride]
		quantizeRows(p, ws, &j.al, x, n, j.a, nil)
	}
	if g := traitsTab[w.Type].gemm; g != nil && n >= gemmMinTokens {
		gj := &ws.gj
		gj.al, gj.a = j.al, j.a
		gj.setup(p, w, n, y, g, ws)
		if p.Threads() == 1 || gj.items == 1 {
			gj.run(0)
		} else {
			p.run(gj)
		}
		gj.w, gj.a, gj.y, gj.ws, j.a, j.x = nil, nil, nil, nil, nil, nil
		return nil
	}
	j.setup(p, w, n, y, tile)
	if p.Threads() == 1 || w.Rows*w.RowBytes*n < serialBytes {
		j.run(0)
	} else {
		p.run(j)
	}
	j.w, j.a, j.x, j.y = nil, nil, nil, nil
	return nil
}

// check verifies that m is a consistent view (NewMatrix guarantees it; a
// literal or SubRows result might not be).
func (m *Matrix) check() error {
	if m.Rows < 0 || m.Cols < 0 || !quant.Supported(m.Type) {
		return fmt.Errorf("kernels: matrix %s [%d, %d] is not supported", m.Type, m.Rows, m.Cols)
	}
	bs := m.Type.BlockSize()
	if m.Cols%bs != 0 || m.RowBytes != m.Cols/bs*m.Type.BlockBytes() || len(m.Data) < m.Rows*m.RowBytes {
		return fmt.Errorf("kernels: %s matrix [%d, %d] with %d bytes per row and %d bytes of data is inconsistent", m.Type, m.Rows, m.Cols, m.RowBytes, len(m.Data))
	}
	return nil
}

// matmulJob is one MatMul split into items; it lives in the Workspace so a
// call allocates nothing.
type matmulJob struct {
	w        *Matrix
	y        []float32
	a        []byte
	x        []float32
	al       actLayout
	tile     tileFunc
	n        int
	rowChunk int
	tokChunk int
	nRow     int // row chunks
	items    int
	next     atomic.Int64
}

func (j *matmulJob) setup(p *Pool, w *Matrix, n int, y []float32, tile tileFunc) {
	j.w, j.y, j.n, j.tile = w, y, n, tile
	arb := j.al.stride
	if j.al.kind < actQ8_0 {
		arb *= 4
	}
	j.tokChunk = min(n, max(maxTileTokens, tokBlockBytes/arb/maxTileTokens*maxTileTokens))
	rows := w.Rows
	// rows per item: enough items for balance, none too small
	target := max(1, p.Threads()*itemsPerWorker/((n+j.tokChunk-1)/j.tokChunk))
	rc := (rows + target - 1) / target
	minRows := max(1, minItemBytes/max(1, w.RowBytes*j.tokChunk))
	rc = max(rc, minRows)
	if n > maxTileTokens {
		rc = min(rc, max(4, maxItemBytes/max(1, w.RowBytes)))
	}
	rc = (rc + 3) &^ 3 // multiples of 4 rows
	j.rowChunk = min(rc, rows)
	j.nRow = (rows + j.rowChunk - 1) / j.rowChunk
	j.items = j.nRow * ((n + j.tokChunk - 1) / j.tokChunk)
	j.next.Store(0)
}

// run processes items until none is left.
func (j *matmulJob) run(int) {
	w := j.w
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.items {
			return
		}
		r0 := (i % j.nRow) * j.rowChunk
		r1 := min(r0+j.rowChunk, w.Rows)
		t0 := (i / j.nRow) * j.tokChunk
		t1 := min(t0+j.tokChunk, j.n)
		wd := w.Data[r0*w.RowBytes : r1*w.RowBytes]
		for t := t0; t < t1; t += maxTileTokens {
			nt := min(maxTileTokens, t1-t)
			var a []byte
			var x []float32
			if j.a != nil {
				a = j.a[t*j.al.stride : (t+nt)*j.al.stride]
			} else {
				x = j.x[t*j.al.stride : (t+nt)*j.al.stride]
			}
			j.tile(wd, w.RowBytes, r1-r0, a, x, &j.al, nt, j.y[t*w.Rows+r0:], w.Rows)
		}
	}
}

// quantJob converts activation rows in parallel.
type quantJob struct {
	al   *actLayout
	x    []float32
	a    []byte
	f    []float32
	n    int
	next atomic.Int64
}

func (q *quantJob) run(int) {
	cols := q.al.cols
	for {
		i := int(q.next.Add(1)) - 1
		if i >= q.n {
			return
		}
		var dst []byte
		var fdst []float32
		if q.a != nil {
			dst = q.a[i*q.al.stride : (i+1)*q.al.stride]
		} else {
			fdst = q.f[i*cols : (i+1)*cols]
		}
		quantizeAct(q.al.kind, q.x[i*cols:(i+1)*cols], dst, fdst)
	}
}

// quantizeRows converts the n activation rows of x into a (quantized kinds)
// or f (rounded float kinds), in parallel when there is enough work.
func quantizeRows(p *Pool, ws *Workspace, al *actLayout, x []float32, n int, a []byte, f []float32) {
	q := &ws.qj
	q.al, q.x, q.a, q.f, q.n = al, x, a, f, n
	q.next.Store(0)
	if n < 4 || p.Threads() == 1 {
		q.run(0)
	} else {
		p.run(q)
	}
	q.x, q.a, q.f, q.al = nil, nil, nil, nil
}

// DequantizeRow writes the Cols values of row r of w into dst as float32.
func DequantizeRow(w *Matrix, r int, dst []float32) error {
	if r < 0 || r >= w.Rows || len(dst) < w.Cols {
		return fmt.Errorf("kernels: dequantize row %d of a [%d, %d] matrix into %d values", r, w.Rows, w.Cols, len(dst))
	}
	return quant.Dequantize(w.Type, w.Row(r), dst[:w.Cols])
}
