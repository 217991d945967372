package model

import (
	"fmt"

	"github.com/dseek-ai/dseek/kernels"
)

// naiveBudget bounds the decompressed K/V of one sequence in the naive MLA
// path, in float32 values (128 MiB).
const naiveBudget = 1 << 25

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
	o := r.s.get("o", n*H*vd) // [n, H, v]
	for _, sq := range d.plan(r, L) {
		var err error
		if sq.naive {
			err = d.naive(r, L, il, sq, q, kv, o)
		} else {
			err = d.absorbed(r, L, il, sq, q, o)
		}
		if err != nil {
			return fmt.Errorf("model: blk.%d: %w", il, err)
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
func (d *deepseek2) plan(r *run, L *ds2Layer) []batchSeq {
	c := d.cfg
	seqs := r.sequences()
	for i := range seqs {
		sq := &seqs[i]
		sq.naive = !L.splitKVB && 2*len(sq.tokens) >= sq.ctx &&
			sq.ctx*c.NHead*(c.QKNopeHeadDim+c.VHeadDim) <= naiveBudget
	}
	return seqs
}

// absorbed runs attention in the latent space for the tokens of sq: the
// queries become [q_abs = W_UKᵀ·q_nope, q_pe] per head, the keys are the
// cached rows [c_KV, k_pe] as they are, the values their c_KV part; W_UV maps
// the result back per head.
func (d *deepseek2) absorbed(r *run, L *ds2Layer, il int, sq batchSeq, q, o []float32) error {
	c := d.cfg
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	qd, w := nope+rope, kvl+rope
	na := len(sq.tokens)
	// Q' [na, H, kvl+rope]: q_abs from W_UKᵀ per head, then q_pe
	qq := r.s.get("mla_q", na*H*w)
	xin := r.s.get("absorb_in", na*nope)
	yout := r.s.get("absorb_out", na*kvl)
	for hh := 0; hh < H; hh++ {
		for i, t := range sq.tokens {
			copy(xin[i*nope:(i+1)*nope], q[(int(t)*H+hh)*qd:(int(t)*H+hh)*qd+nope])
		}
		if err := r.matmul(&L.ukHead[hh], xin, na, yout); err != nil {
			return fmt.Errorf("W_UK: %w", err)
		}
		for i, t := range sq.tokens {
			copy(qq[(i*H+hh)*w:], yout[i*kvl:(i+1)*kvl])
			copy(qq[(i*H+hh)*w+kvl:(i*H+hh+1)*w], q[(int(t)*H+hh)*qd+nope:(int(t)*H+hh+1)*qd])
		}
	}
	qpos := r.s.geti("mla_qpos", na*H)
	for i, t := range sq.tokens {
		for hh := 0; hh < H; hh++ {
			qpos[i*H+hh] = r.b.Pos[t]
		}
	}
	r.s.keys = r.gather("mla_c", sq.seq, il, sq.ctx, 0, w, false)
	r.s.vals = r.gather("mla_ct", sq.seq, il, sq.ctx, 0, kvl, true)
	oLat := r.s.get("olat", na*H*kvl) // [na, H, kvl]
	if err := r.attend(qq, qpos, &r.s.keys, &r.s.vals, c.KQScale(), oLat); err != nil {
		return err
	}
	// o[t, h] = W_UV[h] · oLat[t, h]
	xv := r.s.get("expand_in", na*kvl)
	yv := r.s.get("expand_out", na*vd)
	for hh := 0; hh < H; hh++ {
		for i := range sq.tokens {
			copy(xv[i*kvl:(i+1)*kvl], oLat[(i*H+hh)*kvl:(i*H+hh+1)*kvl])
		}
		if err := r.matmul(&L.uvHead[hh], xv, na, yv); err != nil {
			return fmt.Errorf("W_UV: %w", err)
		}
		for i, t := range sq.tokens {
			copy(o[(int(t)*H+hh)*vd:(int(t)*H+hh+1)*vd], yv[i*vd:(i+1)*vd])
		}
	}
	return nil
}

// naive decompresses K_nope and V of every position of sq's context with
// attn_kv_b and runs ordinary attention per head for its tokens, writing o.
// Batch positions use the latent before it was stored (as llama.cpp computes
// K and V from it); earlier positions use the cached latent. K and V are
// rounded to the cache's element type, as llama.cpp stores them.
func (d *deepseek2) naive(r *run, L *ds2Layer, il int, sq batchSeq, q, kv, o []float32) error {
	c := d.cfg
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	qd, kvd := nope+rope, nope+vd
	n := sq.ctx
	// latent of every position [n, kvl]
	lat := r.s.get("naive_lat", n*kvl)
	r.gatherF32(lat, sq.seq, il, int(sq.p0), 0, kvl)
	for j := int(sq.p0); j < n; j++ {
		t := int(sq.tokens[j-int(sq.p0)])
		copy(lat[j*kvl:(j+1)*kvl], kv[t*(kvl+rope):t*(kvl+rope)+kvl])
	}
	full := r.s.get("naive_kv", n*H*kvd) // [n, H, nope+v]
	if err := r.matmul(&L.wkvB, lat, n, full); err != nil {
		return fmt.Errorf("attn_kv_b: %w", err)
	}
	if r.kvF16() {
		kernels.RoundF16(full)
	}
	// k_pe of every position, from the cache [n, rope]
	kpe := r.s.get("naive_kpe", n*rope)
	r.gatherF32(kpe, sq.seq, il, n, kvl, rope)
	nt := len(sq.tokens)
	kh := r.s.get("naive_kh", n*qd) // one head's keys [n, nope+rope] as float32
	qh := r.s.get("naive_q", nt*qd)
	oh := r.s.get("naive_o", nt*vd)
	qpos := r.s.geti("naive_qpos", nt)
	for i, t := range sq.tokens {
		qpos[i] = r.b.Pos[t]
	}
	for hh := 0; hh < H; hh++ {
		for j := 0; j < n; j++ {
			copy(kh[j*qd:j*qd+nope], full[(j*H+hh)*kvd:(j*H+hh)*kvd+nope])
			copy(kh[j*qd+nope:(j+1)*qd], kpe[j*rope:(j+1)*rope])
		}
		r.s.keys = r.toKV("naive_kmat", kh, n, qd, qd, false)
		r.s.vals = r.toKV("naive_vt", full[hh*kvd+nope:], n, vd, H*kvd, true)
		for i, t := range sq.tokens {
			copy(qh[i*qd:(i+1)*qd], q[(int(t)*H+hh)*qd:(int(t)*H+hh+1)*qd])
		}
		if err := r.attend(qh, qpos, &r.s.keys, &r.s.vals, c.KQScale(), oh); err != nil {
			return err
		}
		for i, t := range sq.tokens {
			copy(o[(int(t)*H+hh)*vd:(int(t)*H+hh+1)*vd], oh[i*vd:(i+1)*vd])
		}
	}
	return nil
}
