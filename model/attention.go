package model

import (
	"fmt"
	"math"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
)

// batchSeq is one sequence of a batch: its tokens and context.
type batchSeq struct {
	seq    kvcache.SeqID
	p0     int32   // position of its first token in the batch
	ctx    int     // context length after the batch (last position + 1)
	tokens []int32 // batch indices of its tokens, in position order
	naive  bool    // MLA: decompress K/V instead of attending in latent space
}

// sequences groups the batch by sequence, reusing the State's storage.
func (r *run) sequences() []batchSeq {
	seqs := r.s.seqs[:0]
	for t, sq := range r.b.Seq {
		i := 0
		for i < len(seqs) && seqs[i].seq != sq {
			i++
		}
		if i == len(seqs) {
			var toks []int32 // reuse the slice an earlier batch left in this slot
			if i < cap(seqs) {
				toks = seqs[:i+1][i].tokens[:0]
			}
			seqs = append(seqs, batchSeq{seq: sq, p0: r.b.Pos[t], tokens: toks})
		}
		seqs[i].tokens = append(seqs[i].tokens, int32(t))
		seqs[i].ctx = int(r.b.Pos[t]) + 1
	}
	r.s.seqs = seqs
	return seqs
}

// kvF16 reports whether the cache stores F16 (else F32) values.
func (r *run) kvF16() bool { return r.cache.Config().Type == dtype.F16 }

// gather copies columns [c0, c0+nc) of the cached rows [0, n) of (seq, il)
// into a matrix of the cache's element type: [n, nc], or [nc, n] when
// transposed. name selects the State buffer that holds it.
func (r *run) gather(name string, seq kvcache.SeqID, il, n, c0, nc int, transposed bool) kernels.Matrix {
	w := r.cache.Config().Width
	rows, cols := n, nc
	if transposed {
		rows, cols = nc, n
	}
	if r.kvF16() {
		dst := r.s.get16(name, n*nc)
		gatherRows(dst, n, w, c0, nc, transposed, func(pos int) ([]uint16, int) {
			src, _, cnt := r.cache.Span(seq, il, pos)
			return src, cnt
		})
		return kernels.F16Matrix(rows, cols, dst)
	}
	dst := r.s.get(name, n*nc)
	gatherRows(dst, n, w, c0, nc, transposed, func(pos int) ([]float32, int) {
		_, src, cnt := r.cache.Span(seq, il, pos)
		return src, cnt
	})
	return kernels.F32Matrix(rows, cols, dst)
}

// gatherRows copies columns [c0, c0+nc) of rows [0, n) (row width w, read
// page by page through span, which returns the page holding pos and its
// row count from pos) into dst: [n, nc], or [nc, n] when transposed.
func gatherRows[T uint16 | float32](dst []T, n, w, c0, nc int, transposed bool, span func(pos int) ([]T, int)) {
	for pos := 0; pos < n; {
		src, cnt := span(pos)
		cnt = min(cnt, n-pos)
		for j := 0; j < cnt; j++ {
			row := src[j*w+c0 : j*w+c0+nc]
			if !transposed {
				copy(dst[(pos+j)*nc:], row)
				continue
			}
			for c, v := range row {
				dst[c*n+pos+j] = v
			}
		}
		pos += cnt
	}
}

// gatherF32 copies columns [c0, c0+nc) of the cached rows [0, n) of
// (seq, il) into dst [n, nc] as float32.
func (r *run) gatherF32(dst []float32, seq kvcache.SeqID, il, n, c0, nc int) {
	w := r.cache.Config().Width
	for pos := 0; pos < n; {
		f16, f32, cnt := r.cache.Span(seq, il, pos)
		cnt = min(cnt, n-pos)
		for j := 0; j < cnt; j++ {
			out := dst[(pos+j)*nc : (pos+j+1)*nc]
			if f32 != nil {
				copy(out, f32[j*w+c0:j*w+c0+nc])
			} else {
				kernels.F16ToF32Row(out, f16[j*w+c0:j*w+c0+nc])
			}
		}
		pos += cnt
	}
}

// toKV converts float32 rows into a matrix of the cache's element type (the
// values are already rounded to it when the cache is F16): [rows, cols] from
// src [rows, cols] with row stride `stride`, or its transpose.
func (r *run) toKV(name string, src []float32, rows, cols, stride int, transposed bool) kernels.Matrix {
	if r.kvF16() {
		dst := r.s.get16(name, rows*cols)
		for j := 0; j < rows; j++ {
			row := src[j*stride : j*stride+cols]
			if !transposed {
				kernels.F32ToF16Row(dst[j*cols:(j+1)*cols], row)
				continue
			}
			for c, v := range row {
				dst[c*rows+j] = kernels.F32ToF16(v)
			}
		}
		if transposed {
			return kernels.F16Matrix(cols, rows, dst)
		}
		return kernels.F16Matrix(rows, cols, dst)
	}
	dst := r.s.get(name, rows*cols)
	for j := 0; j < rows; j++ {
		row := src[j*stride : j*stride+cols]
		if !transposed {
			copy(dst[j*cols:], row)
			continue
		}
		for c, v := range row {
			dst[c*rows+j] = v
		}
	}
	if transposed {
		return kernels.F32Matrix(cols, rows, dst)
	}
	return kernels.F32Matrix(rows, cols, dst)
}

// maxScores bounds the attention score matrix of one attend call, in values.
const maxScores = 1 << 22

// attend computes causal scaled dot-product attention (Vaswani et al. 2017)
// for query rows q [nq, dk] at positions qpos [nq] over keys K [ctx, dk] and
// values given transposed, vt [dv, ctx]: out[i] = Σ_j softmax_j(scale·q_i·k_j,
// j <= qpos[i]) v_j, out [nq, dv]. Both products are matrix products on the
// kernels, so with an F16 cache q and the probabilities are rounded to f16
// exactly as llama.cpp's F16 K/V cache rounds them. Queries are processed in
// chunks that keep the score matrix below maxScores values.
func (r *run) attend(q []float32, qpos []int32, k, vt *kernels.Matrix, scale float32, out []float32) error {
	nq, dk, dv, ctx := len(qpos), k.Cols, vt.Rows, k.Rows
	chunk := max(1, min(nq, maxScores/max(ctx, 1)))
	for i0 := 0; i0 < nq; i0 += chunk {
		m := min(chunk, nq-i0)
		sc := r.s.get("att_scores", m*ctx)
		if err := r.matmul(k, q[i0*dk:(i0+m)*dk], m, sc); err != nil {
			return fmt.Errorf("attention q·k: %w", err)
		}
		sm := &r.s.softmax
		sm.scores, sm.qpos, sm.ctx, sm.scale = sc, qpos[i0:i0+m], ctx, scale
		r.pool.For(m, 8, sm.fn)
		if err := r.matmul(vt, sc, m, out[i0*dv:(i0+m)*dv]); err != nil {
			return fmt.Errorf("attention p·v: %w", err)
		}
	}
	return nil
}

// maskedSoftmax turns score rows into causal attention probabilities. It
// lives in the State with its method value bound once, so handing it to the
// pool allocates nothing.
type maskedSoftmax struct {
	scores []float32 // [rows, ctx]
	qpos   []int32   // [rows] position of each query
	ctx    int
	scale  float32
	fn     func(lo, hi int)
}

func (s *maskedSoftmax) rows(lo, hi int) {
	for i := lo; i < hi; i++ {
		row := s.scores[i*s.ctx : (i+1)*s.ctx]
		visible := int(s.qpos[i]) + 1
		kernels.Scale(row[:visible], s.scale)
		for j := visible; j < s.ctx; j++ {
			row[j] = float32(math.Inf(-1))
		}
		kernels.Softmax(row)
	}
}

// firstErr keeps the first error reported by concurrent workers.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
