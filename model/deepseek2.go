package model

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/dtype"

	"github.com/dseek-ai/dseek/kernels"
)

// deepseek2 is DeepSeek-V2/V2-Lite/V2.5/V3/R1/V3.1: multi-head latent
// attention (DeepSeek-V2 paper §2.1) and DeepSeekMoE (§2.2), following
// DeepSeek-V3 inference/model.py (MLA with attn_impl "absorb", Gate, MoE).
type deepseek2 struct {
	cfg    *Config
	layers []ds2Layer
}

type ds2Layer struct {
	attnNorm, ffnNorm []float32 // [n_embd]

	// query: either direct (V2-Lite) or through the q LoRA
	wq     kernels.Matrix // [n_head·(nope+rope), n_embd] (QLoraRank == 0)
	wqA    kernels.Matrix // [q_lora_rank, n_embd]
	qANorm []float32      // [q_lora_rank]
	wqB    kernels.Matrix // [n_head·(nope+rope), q_lora_rank]

	wkvA    kernels.Matrix // [kv_lora_rank + rope, n_embd]
	kvANorm []float32      // [kv_lora_rank]
	// Up-projections of the latent. Files have either attn_kv_b
	// [n_head·(nope+v), kv_lora_rank] (per head: nope rows of W_UK, then v rows
	// of W_UV), or llama.cpp's 2025 split layout attn_k_b
	// [n_head·kv_lora_rank, nope] (W_UKᵀ per head) and attn_v_b
	// [n_head·v, kv_lora_rank]. Absorbed attention needs W_UKᵀ; for attn_kv_b
	// files it is built once at load (transposeUK).
	wkvB     kernels.Matrix
	wkB      kernels.Matrix // W_UKᵀ per head [n_head·kv_lora_rank, nope]
	wvB      kernels.Matrix // attn_v_b, or unset when W_UV lives in wkvB
	splitKVB bool
	wo       kernels.Matrix // [n_embd, n_head·v]

	dense bool
	ffn   denseFFN // leading dense layers
	moe   moeFFN
}

func bindDeepseek2(b *binder, c *Config) *deepseek2 {
	d := &deepseek2{cfg: c, layers: make([]ds2Layer, c.NLayer)}
	H, nope, rope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.QKRopeHeadDim, c.KVLoraRank, c.VHeadDim
	for il := range d.layers {
		L := &d.layers[il]
		p := fmt.Sprintf("blk.%d.", il)
		L.attnNorm = b.vector(p+"attn_norm.weight", c.NEmbd)
		L.ffnNorm = b.vector(p+"ffn_norm.weight", c.NEmbd)
		if b.has(p + "attn_q_a.weight") {
			if c.QLoraRank == 0 {
				b.fail(fmt.Errorf("model: %sattn_q_a.weight is present but deepseek2.attention.q_lora_rank is missing", p))
				return d
			}
			L.wqA = b.matrix(p+"attn_q_a.weight", c.QLoraRank, c.NEmbd)
			L.qANorm = b.vector(p+"attn_q_a_norm.weight", c.QLoraRank)
			L.wqB = b.matrix(p+"attn_q_b.weight", H*(nope+rope), c.QLoraRank)
		} else {
			L.wq = b.matrix(p+"attn_q.weight", H*(nope+rope), c.NEmbd)
		}
		L.wkvA = b.matrix(p+"attn_kv_a_mqa.weight", kvl+rope, c.NEmbd)
		L.kvANorm = b.vector(p+"attn_kv_a_norm.weight", kvl)
		if b.has(p+"attn_k_b.weight") && b.has(p+"attn_v_b.weight") {
			L.splitKVB = true
			L.wkB = b.experts(p+"attn_k_b.weight", H, kvl, nope)
			L.wvB = b.experts(p+"attn_v_b.weight", H, vd, kvl)
		} else {
			L.wkvB = b.matrix(p+"attn_kv_b.weight", H*(nope+vd), kvl)
			if b.err == nil {
				var err error
				if L.wkB, err = transposeUK(&L.wkvB, H, nope, vd, kvl); err != nil {
					b.fail(fmt.Errorf("model: %sattn_kv_b.weight: %w", p, err))
				}
			}
		}
		L.wo = b.matrix(p+"attn_output.weight", c.NEmbd, H*vd)
		if il < c.NLayerDenseLead {
			L.dense = true
			L.ffn = bindDenseFFN(b, p, "", c.NEmbd, c.NFF)
		} else {
			L.moe = bindMoE(b, p, c)
		}
		if b.err != nil {
			return d
		}
	}
	return d
}

func (d *deepseek2) norms(il int) ([]float32, []float32) {
	return d.layers[il].attnNorm, d.layers[il].ffnNorm
}

func (d *deepseek2) describe() string {
	c := d.cfg
	q := fmt.Sprintf("q_lora_rank %d", c.QLoraRank)
	if len(d.layers) > 0 && d.layers[0].wq.Rows > 0 {
		q = "direct q (no q LoRA)"
	}
	score := "softmax"
	if c.Gating == GatingSigmoid {
		score = "sigmoid"
	}
	return fmt.Sprintf("MLA (%s, kv_lora_rank %d, qk_nope %d, qk_rope %d, v %d), %d dense + %d MoE layers, %d routed experts (top-%d, %s, %d groups/%d used), %d shared",
		q, c.KVLoraRank, c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim, c.NLayerDenseLead, c.NLayer-c.NLayerDenseLead,
		c.NExpert, c.NExpertUsed, score, max(c.NExpertGroup, 1), max(c.NExpertGroupUse, 1), c.NExpertShared)
}

func (d *deepseek2) ffn(r *run, il int, h, out []float32, n int) error {
	L := &d.layers[il]
	if L.dense {
		return L.ffn.forward(r, h, out, n, "ffn")
	}
	return L.moe.forward(r, il, h, out, n)
}

// attention is absorbed MLA (DeepSeek-V3 inference/model.py MLA.forward,
// attn_impl "absorb"): the cache holds only the normalised latent c_KV and
// the rotated shared key k_pe per token; queries are mapped into the latent
// space through W_UK, attention runs there, and W_UV maps the result back.
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
	cs := r.s.get("rope", rope)
	for t := 0; t < n; t++ {
		row := kv[t*(kvl+rope) : (t+1)*(kvl+rope)]
		kernels.RMSNorm(row[:kvl], row[:kvl], L.kvANorm, c.RMSNormEps)
		r.m.rope.CosSin(int(r.b.Pos[t]), cs)
		r.m.rope.Apply(row[kvl:], cs)
		for hh := 0; hh < H; hh++ {
			r.m.rope.Apply(q[(t*H+hh)*qd+nope:(t*H+hh+1)*qd], cs)
		}
		r.cache.Write(r.b.Seq[t], il, int(r.b.Pos[t]), row)
	}

	// q_abs [n, H, kv_lora] = W_UKᵀ q_nope per head
	qAbs := r.s.get("qabs", n*H*kvl)
	if err := d.absorbQ(r, L, q, qAbs); err != nil {
		return fmt.Errorf("model: blk.%d: %w", il, err)
	}

	// attention in latent space: oLat [n, H, kv_lora]
	oLat := r.s.get("olat", n*H*kvl)
	kvs, err := gatherKV(r, il, kvl+rope)
	if err != nil {
		return err
	}
	scale := c.KQScale()
	r.pool.ForWorker(n*H, 1, func(w, lo, hi int) {
		for u := lo; u < hi; u++ {
			t := u / H
			rows := kvs.rows(t)
			ctxLen := int(r.b.Pos[t]) + 1
			sc := r.s.workerBuf(w, ctxLen)
			qa := qAbs[u*kvl : (u+1)*kvl]
			qp := q[u*qd+nope : (u+1)*qd]
			for j := range sc {
				row := rows[j*(kvl+rope) : (j+1)*(kvl+rope)]
				sc[j] = (kernels.Dot(qa, row[:kvl]) + kernels.Dot(qp, row[kvl:])) * scale
			}
			kernels.Softmax(sc)
			o := oLat[u*kvl : (u+1)*kvl]
			clear(o)
			for j, p := range sc {
				kernels.Axpy(p, rows[j*(kvl+rope):j*(kvl+rope)+kvl], o)
			}
		}
	})

	// o [n, H, v] = W_UV oLat per head, then the output projection
	o := r.s.get("o", n*H*vd)
	if err := d.expandV(r, L, oLat, o); err != nil {
		return fmt.Errorf("model: blk.%d: %w", il, err)
	}
	if err := r.matmul(&L.wo, o, n, out); err != nil {
		return fmt.Errorf("model: blk.%d.attn_output: %w", il, err)
	}
	return nil
}

// absorbQ computes qAbs[t, h] = W_UK[h]ᵀ · q_nope[t, h] for every token and
// head (the "absorb" einsum "bshd,hdc->bshc" of DeepSeek-V3 MLA.forward).
func (d *deepseek2) absorbQ(r *run, L *ds2Layer, q, qAbs []float32) error {
	c := d.cfg
	n := r.n
	H, nope, kvl := c.NHead, c.QKNopeHeadDim, c.KVLoraRank
	qd := nope + c.QKRopeHeadDim
	// W_UKᵀ per head: [kv_lora, nope] rows; one product per head.
	xin := r.s.get("absorb_in", n*nope)
	yout := r.s.get("absorb_out", n*kvl)
	for hh := 0; hh < H; hh++ {
		for t := 0; t < n; t++ {
			copy(xin[t*nope:(t+1)*nope], q[(t*H+hh)*qd:(t*H+hh)*qd+nope])
		}
		wk := L.wkB.SubRows(hh*kvl, (hh+1)*kvl)
		if err := r.matmul(&wk, xin, n, yout); err != nil {
			return fmt.Errorf("W_UK: %w", err)
		}
		for t := 0; t < n; t++ {
			copy(qAbs[(t*H+hh)*kvl:(t*H+hh+1)*kvl], yout[t*kvl:(t+1)*kvl])
		}
	}
	return nil
}

// expandV computes o[t, h] = W_UV[h] · oLat[t, h].
func (d *deepseek2) expandV(r *run, L *ds2Layer, oLat, o []float32) error {
	c := d.cfg
	n := r.n
	H, nope, kvl, vd := c.NHead, c.QKNopeHeadDim, c.KVLoraRank, c.VHeadDim
	xin := r.s.get("expand_in", n*kvl)
	yout := r.s.get("expand_out", n*vd)
	for hh := 0; hh < H; hh++ {
		for t := 0; t < n; t++ {
			copy(xin[t*kvl:(t+1)*kvl], oLat[(t*H+hh)*kvl:(t*H+hh+1)*kvl])
		}
		var wv kernels.Matrix
		if L.splitKVB {
			wv = L.wvB.SubRows(hh*vd, (hh+1)*vd)
		} else {
			wv = L.wkvB.SubRows(hh*(nope+vd)+nope, (hh+1)*(nope+vd))
		}
		if err := r.matmul(&wv, xin, n, yout); err != nil {
			return fmt.Errorf("W_UV: %w", err)
		}
		for t := 0; t < n; t++ {
			copy(o[(t*H+hh)*vd:(t*H+hh+1)*vd], yout[t*vd:(t+1)*vd])
		}
	}
	return nil
}

// transposeUK builds W_UKᵀ per head from attn_kv_b: for head h, rows
// h·(nope+v) .. h·(nope+v)+nope-1 of kv_b are W_UK[h] [nope, kv_lora]; the
// result holds W_UK[h]ᵀ [kv_lora, nope] at rows h·kv_lora, as one matrix
// [n_head·kv_lora, nope]. Float weights keep their type (the transpose is
// exact); block-quantized ones are dequantized and stored as F16, since a
// transposed block format cannot be formed without requantizing (ik_llama.cpp
// prepares its wk_b the same way, in Q8_0). This copy is made once at load.
func transposeUK(kvb *kernels.Matrix, H, nope, vd, kvl int) (kernels.Matrix, error) {
	t := kvb.Type
	if t != dtype.F32 && t != dtype.BF16 {
		t = dtype.F16
	}
	es := 2
	if t == dtype.F32 {
		es = 4
	}
	data := make([]byte, H*kvl*nope*es)
	row := make([]float32, kvl)
	for h := 0; h < H; h++ {
		for i := 0; i < nope; i++ {
			if err := kernels.DequantizeRow(kvb, h*(nope+vd)+i, row); err != nil {
				return kernels.Matrix{}, err
			}
			for c, v := range row {
				off := ((h*kvl+c)*nope + i) * es
				switch t {
				case dtype.F32:
					binary.LittleEndian.PutUint32(data[off:], math.Float32bits(v))
				case dtype.BF16:
					binary.LittleEndian.PutUint16(data[off:], uint16(math.Float32bits(v)>>16))
				default:
					binary.LittleEndian.PutUint16(data[off:], kernels.F32ToF16(v))
				}
			}
		}
	}
	return kernels.NewMatrix(t, H*kvl, nope, data)
}
