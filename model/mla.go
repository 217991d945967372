package model

import (
	"fmt"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
)

// naiveBudget bounds the decompressed K/V of one sequence in the naive MLA
// path, in float32 values (128 MiB).
const naiveBudget = 1 << 25

// mlaSeq is one sequence of a batch and how its attention is computed.
type mlaSeq struct {
	seq    kvcache.SeqID
	p0     int32   // first batch position of the sequence
	ctx    int     // context length after the batch (last position + 1)
	tokens []int32 // batch indices of its tokens, in position order
	naive  bool
}

// attention is multi-head latent attention (DeepSeek-V2 paper §2.1;
// DeepSeek-V3 inference/model.py MLA.forward). The cache holds only the
// normalised latent c_KV and the rotated shared key k_pe per token. Two
// equivalent forms are used:
//
//   - absorbed (attn_impl "absorb"), for decode and short additions to a long
//     context: queries are mapped into the latent space through W_UK,
//     attention runs over the cached latents, W_UV maps the result back;
//   - naive, for prompt prefill where most of the context is new: K_nope and
//     V of every position are decompressed with attn_kv_b and ordinary
//     attention runs on them, which is cheaper for long new prompts and, with
//     an F16 cache, rounds K, V, q and the probabilities to f16 exactly where
//     llama.cpp's MLA does.
func (d *deepseek2) attention(r *run, il int, h, out []float32) error {
	c := d.cfg
	L := &d.layers[il]
	n := r.n
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	qd := nope + rope

	// q [n, H, nope+rope]
	q := r.s.get("q", n*H*qd)
	if L.wq.Rows > 0 {
		if err := r.matmul(&L.wq, h, n, q); err != nil {
			return fmt.Errorf("model: blk.%d.attn_q: %w", il, err)
		}
	} else {
		qa := r.s.get("qa", n*c.QLoraRank)
		if err := r.matmul(&L.wqA, h, n, qa); err != nil {
			return fmt.Errorf("model: blk.%d.attn_q_a: %w", il, err)
		}
		for t := 0; t < n; t++ {
			row := qa[t*c.QLoraRank : (t+1)*c.QLoraRank]
			kernels.RMSNorm(row, row, L.qANorm, c.RMSNormEps)
		}
		if err := r.matmul(&L.wqB, qa, n, q); err != nil {
			return fmt.Errorf("model: blk.%d.attn_q_b: %w", il, err)
		}
	}
	// kv [n, kv_lora + rope]: latent c_KV, then k_pe
	kv := r.s.get("kv", n*(kvl+rope))
	if err := r.matmul(&L.wkvA, h, n, kv); err != nil {
		return fmt.Errorf("model: blk.%d.attn_kv_a_mqa: %w", il, err)
	}
	for t := 0; t < n; t++ {
		row := kv[t*(kvl+rope) : (t+1)*(kvl+rope)]
		kernels.RMSNorm(row[:kvl], row[:kvl], L.kvANorm, c.RMSNormEps)
		cs := r.ropeCS(t)
		r.m.rope.Apply(row[kvl:], cs)
		for hh := 0; hh < H; hh++ {
			r.m.rope.Apply(q[(t*H+hh)*qd+nope:(t*H+hh+1)*qd], cs)
		}
		r.cache.Write(r.b.Seq[t], il, int(r.b.Pos[t]), row)
	}
	kvs, err := gatherKV(r, il, kvl+rope)
	if err != nil {
		return err
	}
	o := r.s.get("o", n*H*vd) // [n, H, v]
	seqs := d.plan(r, L)
	abs := r.s.geti("mla_abs", 0)
	for i := range seqs {
		sq := &seqs[i]
		if !sq.naive {
			abs = append(abs, sq.tokens...)
			continue
		}
		if err := d.naive(r, L, il, sq, q, kv, kvs, o); err != nil {
			return err
		}
	}
	r.s.ibuf["mla_abs"] = abs
	if len(abs) > 0 {
		if err := d.absorbed(r, L, il, abs, q, kvs, o); err != nil {
			return err
		}
	}
	if err := r.matmul(&L.wo, o, n, out); err != nil {
		return fmt.Errorf("model: blk.%d.attn_output: %w", il, err)
	}
	return nil
}

// plan groups the batch by sequence and picks the naive form where at least
// half of a sequence's context is new in this batch (a prompt), the file has
// attn_kv_b, and the decompressed K/V fit naiveBudget.
func (d *deepseek2) plan(r *run, L *ds2Layer) []mlaSeq {
	c := d.cfg
	seqs := r.s.mla[:0]
	for t, sq := range r.b.Seq {
		i := 0
		for i < len(seqs) && seqs[i].seq != sq {
			i++
		}
		if i == len(seqs) {
			// reuse the token slice an earlier batch left in this slot
			var toks []int32
			if i < cap(seqs) {
				toks = seqs[:i+1][i].tokens[:0]
			}
			seqs = append(seqs, mlaSeq{seq: sq, p0: r.b.Pos[t], tokens: toks})
		}
		seqs[i].tokens = append(seqs[i].tokens, int32(t))
		seqs[i].ctx = int(r.b.Pos[t]) + 1
	}
	for i := range seqs {
		sq := &seqs[i]
		sq.naive = !L.splitKVB && 2*len(sq.tokens) >= sq.ctx &&
			sq.ctx*c.NHead*(c.QKNopeHeadDim+c.VHeadDim) <= naiveBudget
	}
	r.s.mla = seqs
	return seqs
}

// absorbed runs attention in the latent space for the batch tokens abs.
func (d *deepseek2) absorbed(r *run, L *ds2Layer, il int, abs []int32, q []float32, kvs *kvRows, o []float32) error {
	c := d.cfg
	na := len(abs)
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	qd := nope + rope
	// q_abs [na, H, kv_lora] = W_UKᵀ q_nope per head
	qAbs := r.s.get("qabs", na*H*kvl)
	xin := r.s.get("absorb_in", na*nope)
	yout := r.s.get("absorb_out", na*kvl)
	for hh := 0; hh < H; hh++ {
		for i, t := range abs {
			copy(xin[i*nope:(i+1)*nope], q[(int(t)*H+hh)*qd:(int(t)*H+hh)*qd+nope])
		}
		wk := L.wkB.SubRows(hh*kvl, (hh+1)*kvl)
		if err := r.matmul(&wk, xin, na, yout); err != nil {
			return fmt.Errorf("model: blk.%d W_UK: %w", il, err)
		}
		for i := range abs {
			copy(qAbs[(i*H+hh)*kvl:(i*H+hh+1)*kvl], yout[i*kvl:(i+1)*kvl])
		}
	}
	// oLat [na, H, kv_lora] = Σ_j softmax_j(q_abs·c_j + q_pe·k_pe_j) c_j
	oLat := r.s.get("olat", na*H*kvl)
	scale := c.KQScale()
	r.pool.ForWorker(na*H, 1, func(w, lo, hi int) {
		for u := lo; u < hi; u++ {
			i, hh := u/H, u%H
			t := int(abs[i])
			rows := kvs.rows(t)
			sc := r.s.workerBuf(w, int(r.b.Pos[t])+1)
			qa := qAbs[u*kvl : (u+1)*kvl]
			qp := q[(t*H+hh)*qd+nope : (t*H+hh+1)*qd]
			for j := range sc {
				row := rows[j*(kvl+rope) : (j+1)*(kvl+rope)]
				sc[j] = (kernels.Dot(qa, row[:kvl]) + kernels.Dot(qp, row[kvl:])) * scale
			}
			kernels.Softmax(sc)
			ol := oLat[u*kvl : (u+1)*kvl]
			clear(ol)
			for j, p := range sc {
				kernels.Axpy(p, rows[j*(kvl+rope):j*(kvl+rope)+kvl], ol)
			}
		}
	})
	// o[t, h] = W_UV[h] · oLat[t, h]
	xv := r.s.get("expand_in", na*kvl)
	yv := r.s.get("expand_out", na*vd)
	for hh := 0; hh < H; hh++ {
		for i := range abs {
			copy(xv[i*kvl:(i+1)*kvl], oLat[(i*H+hh)*kvl:(i*H+hh+1)*kvl])
		}
		var wv kernels.Matrix
		if L.splitKVB {
			wv = L.wvB.SubRows(hh*vd, (hh+1)*vd)
		} else {
			wv = L.wkvB.SubRows(hh*(nope+vd)+nope, (hh+1)*(nope+vd))
		}
		if err := r.matmul(&wv, xv, na, yv); err != nil {
			return fmt.Errorf("model: blk.%d W_UV: %w", il, err)
		}
		for i, t := range abs {
			copy(o[(int(t)*H+hh)*vd:(int(t)*H+hh+1)*vd], yv[i*vd:(i+1)*vd])
		}
	}
	return nil
}

// naive decompresses K_nope and V of every position of sq's context with
// attn_kv_b and runs ordinary attention for its batch tokens, writing o.
// Batch positions use the latent before it was stored (as llama.cpp computes
// K and V from it); earlier positions use the cached latent. With an F16
// cache, K, V, q and the probabilities are rounded to f16 like llama.cpp's
// F16 K/V cache rounds them.
func (d *deepseek2) naive(r *run, L *ds2Layer, il int, sq *mlaSeq, q, kv []float32, kvs *kvRows, o []float32) error {
	c := d.cfg
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	qd, kvd := nope+rope, nope+vd
	n := sq.ctx
	rows := kvs.rows(int(sq.tokens[0]))
	lat := r.s.get("naive_lat", n*kvl)
	for j := 0; j < n; j++ {
		src := rows[j*(kvl+rope) : j*(kvl+rope)+kvl]
		if j >= int(sq.p0) {
			t := sq.tokens[j-int(sq.p0)]
			src = kv[int(t)*(kvl+rope) : int(t)*(kvl+rope)+kvl]
		}
		copy(lat[j*kvl:(j+1)*kvl], src)
	}
	full := r.s.get("naive_kv", n*H*kvd) // [n, H, nope+v]
	if err := r.matmul(&L.wkvB, lat, n, full); err != nil {
		return fmt.Errorf("model: blk.%d.attn_kv_b: %w", il, err)
	}
	f16 := r.cache.Config().Type == dtype.F16
	if f16 {
		kernels.RoundF16(full)
		for _, t := range sq.tokens {
			kernels.RoundF16(q[int(t)*H*qd : (int(t)+1)*H*qd])
		}
	}
	scale := c.KQScale()
	r.pool.ForWorker(len(sq.tokens)*H, 1, func(w, lo, hi int) {
		for u := lo; u < hi; u++ {
			t, hh := int(sq.tokens[u/H]), u%H
			sc := r.s.workerBuf(w, int(r.b.Pos[t])+1)
			qn := q[(t*H+hh)*qd : (t*H+hh)*qd+nope]
			qp := q[(t*H+hh)*qd+nope : (t*H+hh+1)*qd]
			for j := range sc {
				k := full[(j*H+hh)*kvd : (j*H+hh)*kvd+nope]
				sc[j] = (kernels.Dot(qn, k) + kernels.Dot(qp, rows[j*(kvl+rope)+kvl:(j+1)*(kvl+rope)])) * scale
			}
			kernels.Softmax(sc)
			if f16 {
				kernels.RoundF16(sc)
			}
			oh := o[(t*H+hh)*vd : (t*H+hh+1)*vd]
			clear(oh)
			for j, p := range sc {
				kernels.Axpy(p, full[(j*H+hh)*kvd+nope:(j*H+hh+1)*kvd], oh)
			}
		}
	})
	return nil
}
