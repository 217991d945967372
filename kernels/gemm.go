package kernels

import (
	"sync/atomic"
)

// Prefill products (n >= gemmMinTokens activation rows) of the formats
// with a gemmTraits row run as a GEMM on repacked weights: each work item
// converts its weight rows once, eight rows at a time, into an interleaved
// layout with plain int8 quants ("r8": 32-byte vectors holding four
// consecutive quants of each of eight rows, decoded scales beside them),
// then streams every activation row of the batch past them. One integer
// multiply-add then serves eight rows, and the per-row decoding of the
// block format is paid once per item instead of once per token. The packed
// copy lives in the Workspace, a few hundred KiB per worker; the model's
// weights are not copied as a whole.
//
// Each packed kernel performs, per output, the same exact integer block
// sums and the same float operations in the same order as the format's
// tile kernels (tileFunc), so an output does not depend on which path
// computed it (the package doc's guarantee).

// packFunc converts rows [0, nr) (nr <= 8) of a weight matrix (row r at
// w[r·wstride:], nb blocks) into one packed row group at dst (nb ×
// gemmTraits.groupBytes bytes); missing rows are packed as zeros.
type packFunc func(w []byte, wstride, nr, nb int, dst []byte)

// gemmFunc computes, for one packed row group p of nb blocks and nt
// activation rows (converted layout al at a[t·al.stride:]),
//
//	y[t·ys + r] = Σ_c w[r, c] · act[t, c]   for r < 8, t < nt.
type gemmFunc func(p []byte, nb int, a []byte, al *actLayout, nt int, y []float32, ys int)

// gemmTraits is the packed path of one format.
type gemmTraits struct {
	groupBytes int // packed bytes per row group (8 rows) per block
	pack       packFunc
	goKernel   gemmFunc
	simd       gemmFunc // nil if no SIMD kernel
	simdOn     *bool
}

// kernel returns the SIMD kernel when present and enabled, else the Go one.
func (g *gemmTraits) kernel() gemmFunc {
	if g.simd != nil && *g.simdOn {
		return g.simd
	}
	return g.goKernel
}

const (
	// gemmMinTokens is the smallest batch that takes the packed path.
	gemmMinTokens = 16
	// gemmPackBytes bounds the packed weights of one work item (they are
	// reread for every block of tokens, so they should stay in L2).
	gemmPackBytes = 192 << 10
	// gemmActBytes bounds the activation rows of one token block (reread
	// for every row group of an item).
	gemmActBytes = 96 << 10
	// gemmItemsPerThread is the number of work items per thread aimed at
	// (fewer when rows are few), for balance.
	gemmItemsPerThread = 6
)

// gemmJob is one packed MatMul; it lives in the Workspace.
type gemmJob struct {
	w        *Matrix
	y        []float32
	a        []byte
	al       actLayout
	n        int
	g        *gemmTraits
	kern     gemmFunc
	rowChunk int // weight rows per item, a multiple of 8
	tokBlock int // activation rows per kernel call
	items    int
	ws       *Workspace
	next     atomic.Int64
}

func (j *gemmJob) setup(p *Pool, w *Matrix, n int, y []float32, g *gemmTraits, ws *Workspace) {
	j.w, j.y, j.n, j.g, j.kern, j.ws = w, y, n, g, g.kernel(), ws
	nb := j.al.nb
	groups := (w.Rows + 7) / 8
	maxG := max(1, gemmPackBytes/max(1, nb*g.groupBytes))
	want := max(1, groups/(p.Threads()*gemmItemsPerThread))
	j.rowChunk = 8 * min(maxG, want)
	j.items = (w.Rows + j.rowChunk - 1) / j.rowChunk
	j.tokBlock = min(n, max(4, gemmActBytes/j.al.stride&^3))
	need := (j.rowChunk / 8) * nb * g.groupBytes
	ws.mu.Lock()
	for len(ws.packs) < p.Threads() {
		ws.packs = append(ws.packs, packScratch{})
	}
	for i := range ws.packs[:p.Threads()] {
		if len(ws.packs[i].buf) < need {
			ws.packs[i].buf = make([]byte, need)
		}
		if len(ws.packs[i].tmp) < 8*j.tokBlock {
			ws.packs[i].tmp = make([]float32, 8*j.tokBlock)
		}
	}
	ws.mu.Unlock()
	j.next.Store(0)
}

// packScratch is one worker's packed weights and ragged-group outputs.
type packScratch struct {
	buf []byte
	tmp []float32
}

// run processes items until none is left; wk is the participant's index.
func (j *gemmJob) run(wk int) {
	w := j.w
	nb, gb := j.al.nb, j.g.groupBytes*j.al.nb
	sc := &j.ws.packs[wk]
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.items {
			return
		}
		r0 := i * j.rowChunk
		r1 := min(r0+j.rowChunk, w.Rows)
		ng := (r1 - r0 + 7) / 8
		for g := 0; g < ng; g++ {
			rg := r0 + 8*g
			nr := min(8, r1-rg)
			j.g.pack(w.Data[rg*w.RowBytes:], w.RowBytes, nr, nb, sc.buf[g*gb:(g+1)*gb])
		}
		for t0 := 0; t0 < j.n; t0 += j.tokBlock {
			nt := min(j.tokBlock, j.n-t0)
			a := j.a[t0*j.al.stride : (t0+nt)*j.al.stride]
			for g := 0; g < ng; g++ {
				rg := r0 + 8*g
				nr := min(8, r1-rg)
				p := sc.buf[g*gb : (g+1)*gb]
				if nr == 8 {
					j.kern(p, nb, a, &j.al, nt, j.y[t0*w.Rows+rg:], w.Rows)
					continue
				}
				tmp := sc.tmp[:8*nt]
				j.kern(p, nb, a, &j.al, nt, tmp, 8)
				for t := 0; t < nt; t++ {
					copy(j.y[(t0+t)*w.Rows+rg:(t0+t)*w.Rows+rg+nr], tmp[8*t:8*t+nr])
				}
			}
		}
	}
}
