package model

import (
	"fmt"

	"github.com/dseek-ai/dseek/kernels"
)

// dense is the llama and qwen2 architectures: grouped-query attention with
// rope and a SwiGLU FFN (Touvron et al. 2023; llama.cpp build_llama and
// build_qwen2). qwen2 adds q/k/v biases and uses NeoX rope; llama may carry
// llama3 rope frequency factors (rope_freqs.weight). DeepSeek-LLM and the
// R1-Distill models use these.
type dense struct {
	cfg    *Config
	layers []denseLayer
}

type denseLayer struct {
	attnNorm, ffnNorm []float32      // [n_embd]
	wq                kernels.Matrix // [n_head·head_dim, n_embd]
	wk, wv            kernels.Matrix // [n_head_kv·head_dim, n_embd]
	bq, bk, bv        []float32      // biases (qwen2) or nil
	wo                kernels.Matrix // [n_embd, n_head·head_dim_v]
	ffn               denseFFN
}

func bindDense(b *binder, c *Config) *dense {
	d := &dense{cfg: c, layers: make([]denseLayer, c.NLayer)}
	qDim, kDim, vDim := c.NHead*c.HeadDimK, c.NHeadKV*c.HeadDimK, c.NHeadKV*c.HeadDimV
	if ff, ok := b.optVector("rope_freqs.weight", c.Rope.NDims/2, false); ok {
		c.Rope.FreqFactors = ff
	}
	for il := range d.layers {
		L := &d.layers[il]
		p := fmt.Sprintf("blk.%d.", il)
		L.attnNorm = b.vector(p+"attn_norm.weight", c.NEmbd)
		L.ffnNorm = b.vector(p+"ffn_norm.weight", c.NEmbd)
		L.wq = b.matrix(p+"attn_q.weight", qDim, c.NEmbd)
		L.wk = b.matrix(p+"attn_k.weight", kDim, c.NEmbd)
		L.wv = b.matrix(p+"attn_v.weight", vDim, c.NEmbd)
		L.bq, _ = b.optVector(p+"attn_q.bias", qDim, false)
		L.bk, _ = b.optVector(p+"attn_k.bias", kDim, false)
		L.bv, _ = b.optVector(p+"attn_v.bias", vDim, false)
		L.wo = b.matrix(p+"attn_output.weight", c.NEmbd, c.NHead*c.HeadDimV)
		L.ffn = bindDenseFFN(b, p, "", c.NEmbd, c.NFF)
		if b.err != nil {
			break
		}
	}
	return d
}

func (d *dense) norms(il int) ([]float32, []float32) {
	return d.layers[il].attnNorm, d.layers[il].ffnNorm
}

func (d *dense) describe() string {
	c := d.cfg
	rope := "normal rope"
	if c.Rope.Mode == kernels.RopeNeoX {
		rope = "NeoX rope"
	}
	extra := ""
	if len(d.layers) > 0 && d.layers[0].bq != nil {
		extra += ", q/k/v biases"
	}
	if c.Rope.FreqFactors != nil {
		extra += ", rope frequency factors"
	}
	return fmt.Sprintf("GQA %d/%d heads of %d, %s%s, SwiGLU FFN %d", c.NHead, c.NHeadKV, c.HeadDimK, rope, extra, c.NFF)
}

func (d *dense) ffn(r *run, il int, h, out []float32, n int) error {
	return d.layers[il].ffn.forward(r, h, out, n, "ffn")
}

func addBias(x, b []float32, n int) {
	if b == nil {
		return
	}
	w := len(b)
	for t := 0; t < n; t++ {
		kernels.Add(x[t*w:(t+1)*w], b)
	}
}

// attention is causal grouped-query attention over the cached K and V
// (Ainslie et al. 2023), as two matrix products per KV group (see attend).
func (d *dense) attention(r *run, il int, h, out []float32) error {
	c := d.cfg
	L := &d.layers[il]
	n := r.n
	H, HKV, hk, hv := c.NHead, c.NHeadKV, c.HeadDimK, c.HeadDimV
	q := r.s.get("q", n*H*hk)
	kvw := HKV * (hk + hv)
	kv := r.s.get("kv", n*kvw)
	k := r.s.get("k", n*HKV*hk)
	v := r.s.get("v", n*HKV*hv)
	if err := r.matmul(&L.wq, h, n, q); err != nil {
		return fmt.Errorf("model: blk.%d.attn_q: %w", il, err)
	}
	if err := r.matmul(&L.wk, h, n, k); err != nil {
		return fmt.Errorf("model: blk.%d.attn_k: %w", il, err)
	}
	if err := r.matmul(&L.wv, h, n, v); err != nil {
		return fmt.Errorf("model: blk.%d.attn_v: %w", il, err)
	}
	addBias(q, L.bq, n)
	addBias(k, L.bk, n)
	addBias(v, L.bv, n)
	for t := 0; t < n; t++ {
		cs := r.ropeCS(t)
		for hh := 0; hh < H; hh++ {
			r.m.rope.Apply(q[(t*H+hh)*hk:(t*H+hh+1)*hk], cs)
		}
		for g := 0; g < HKV; g++ {
			r.m.rope.Apply(k[(t*HKV+g)*hk:(t*HKV+g+1)*hk], cs)
		}
		row := kv[t*kvw : (t+1)*kvw]
		copy(row, k[t*HKV*hk:(t+1)*HKV*hk])
		copy(row[HKV*hk:], v[t*HKV*hv:(t+1)*HKV*hv])
		r.cache.Write(r.b.Seq[t], il, int(r.b.Pos[t]), row)
	}
	o := r.s.get("o", n*H*hv)
	scale := c.KQScale()
	group := H / HKV
	for _, sq := range r.sequences() {
		// The heads of one KV group share K and V: one query row per
		// (token, head of the group).
		nq := len(sq.tokens) * group
		qg := r.s.get("att_q", nq*hk)
		og := r.s.get("att_o", nq*hv)
		qpos := r.s.geti("att_qpos", nq)
		for g := 0; g < HKV; g++ {
			r.s.keys = r.gather("att_k", sq.seq, il, sq.ctx, g*hk, hk, false)
			r.s.vals = r.gather("att_vt", sq.seq, il, sq.ctx, HKV*hk+g*hv, hv, true)
			for i, t := range sq.tokens {
				for j := 0; j < group; j++ {
					hh := g*group + j
					copy(qg[(i*group+j)*hk:(i*group+j+1)*hk], q[(int(t)*H+hh)*hk:])
					qpos[i*group+j] = r.b.Pos[t]
				}
			}
			if err := r.attend(qg, qpos, &r.s.keys, &r.s.vals, scale, og); err != nil {
				return fmt.Errorf("model: blk.%d: %w", il, err)
			}
			for i, t := range sq.tokens {
				for j := 0; j < group; j++ {
					hh := g*group + j
					copy(o[(int(t)*H+hh)*hv:(int(t)*H+hh+1)*hv], og[(i*group+j)*hv:])
				}
			}
		}
	}
	if err := r.matmul(&L.wo, o, n, out); err != nil {
		return fmt.Errorf("model: blk.%d.attn_output: %w", il, err)
	}
	return nil
}
