package model

import (
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/kernels"
)

// denseFFN is the SwiGLU feed-forward block down(silu(gate(x)) ⊙ up(x))
// (Shazeer 2020; llama.cpp llm_build_ffn with LLM_FFN_SILU, LLM_FFN_PAR).
type denseFFN struct {
	gate, up kernels.Matrix // [n_ff, n_embd]
	down     kernels.Matrix // [n_embd, n_ff]
}

// bindDenseFFN binds <p>ffn_{gate,up,down}<suffix>.weight.
func bindDenseFFN(b *binder, p, suffix string, nEmbd, nFF int) denseFFN {
	return denseFFN{
		gate: b.matrix(p+"ffn_gate"+suffix+".weight", nFF, nEmbd),
		up:   b.matrix(p+"ffn_up"+suffix+".weight", nFF, nEmbd),
		down: b.matrix(p+"ffn_down"+suffix+".weight", nEmbd, nFF),
	}
}

// forward computes out [n, n_embd] from h [n, n_embd].
func (f *denseFFN) forward(r *run, h, out []float32, n int, name string) error {
	nff := f.gate.Rows
	g := r.s.get("ffn_gate", n*nff)
	u := r.s.get("ffn_up", n*nff)
	if err := r.matmul(&f.up, h, n, u); err != nil {
		return fmt.Errorf("model: %s up: %w", name, err)
	}
	if err := r.matmul(&f.gate, h, n, g); err != nil {
		return fmt.Errorf("model: %s gate: %w", name, err)
	}
	kernels.SwiGLU(g, g, u)
	if err := r.matmul(&f.down, g, n, out); err != nil {
		return fmt.Errorf("model: %s down: %w", name, err)
	}
	return nil
}

// moeFFN is a DeepSeekMoE layer (DeepSeek-V2 paper §2.2, DeepSeek-V3
// inference/model.py Gate and MoE): a router picks n_expert_used routed
// experts per token, their outputs are summed with the router weights, and
// the shared experts' output is added.
type moeFFN struct {
	cfg      *Config
	gateInp  kernels.Matrix // [n_expert, n_embd] router
	probsB   []float32      // [n_expert] selection bias (exp_probs_b, V3) or nil
	gateExps kernels.Matrix // [n_expert·n_ff_exp, n_embd]
	upExps   kernels.Matrix // [n_expert·n_ff_exp, n_embd]
	downExps kernels.Matrix // [n_expert·n_embd, n_ff_exp]
	shared   *denseFFN      // n_ff_exp·n_shared wide, or nil
	// per-expert views of the three stacks, made once at load
	gate, up, down []kernels.Matrix
}

func bindMoE(b *binder, p string, c *Config) moeFFN {
	m := moeFFN{cfg: c}
	E, nff := c.NExpert, c.NFFExpert
	m.gateInp = b.matrix(p+"ffn_gate_inp.weight", E, c.NEmbd)
	if v, ok := b.optVector(p+"exp_probs_b.bias", E, false); ok {
		m.probsB = v
	}
	m.gateExps = b.experts(p+"ffn_gate_exps.weight", E, nff, c.NEmbd)
	m.upExps = b.experts(p+"ffn_up_exps.weight", E, nff, c.NEmbd)
	m.downExps = b.experts(p+"ffn_down_exps.weight", E, c.NEmbd, nff)
	if c.NExpertShared > 0 {
		sh := bindDenseFFN(b, p, "_shexp", c.NEmbd, nff*c.NExpertShared)
		m.shared = &sh
	}
	if b.err == nil {
		m.gate, m.up, m.down = make([]kernels.Matrix, E), make([]kernels.Matrix, E), make([]kernels.Matrix, E)
		for e := 0; e < E; e++ {
			m.gate[e] = m.gateExps.SubRows(e*nff, (e+1)*nff)
			m.up[e] = m.upExps.SubRows(e*nff, (e+1)*nff)
			m.down[e] = m.downExps.SubRows(e*c.NEmbd, (e+1)*c.NEmbd)
		}
	}
	return m
}

// Routing is the router's decision for one token.
type Routing struct {
	Probs    []float32 // [n_expert] softmax or sigmoid of the router logits
	Selected []int32   // [n_expert_used] chosen experts, highest selection score first
	Weights  []float32 // [n_expert_used] final weight of each chosen expert
}

// route computes the routing of one token from its router logits
// (DeepSeek-V3 inference/model.py Gate.forward): scores by softmax or
// sigmoid; selection scores add exp_probs_b; with expert groups, groups are
// ranked by the sum of their top-2 selection scores when a bias exists
// (V3 noaux_tc) or by their maximum otherwise (V2 group_limited_greedy), and
// experts outside the best n_expert_group_used groups are excluded; top-k;
// weights are the unbiased scores of the chosen experts, divided by their sum
// if expert_weights_norm, times expert_weights_scale.
func (m *moeFFN) route(logits, probs, sel []float32, ids []int32, w []float32) {
	c := m.cfg
	E := c.NExpert
	copy(probs, logits[:E])
	if c.Gating == GatingSigmoid {
		for e := range probs {
			probs[e] = kernels.Sigmoid(probs[e])
		}
	} else {
		kernels.Softmax(probs)
	}
	copy(sel, probs)
	if m.probsB != nil {
		for e := range sel {
			sel[e] += m.probsB[e]
		}
	}
	if G := c.NExpertGroup; G > 1 && c.NExpertGroupUse < G {
		per := E / G
		type gs struct {
			g     int
			score float32
		}
		var stack [64]gs
		groups := stack[:0]
		if G > len(stack) {
			groups = make([]gs, 0, G)
		}
		for g := 0; g < G; g++ {
			grp := sel[g*per : (g+1)*per]
			var s float32
			if m.probsB != nil {
				a, b := float32(math.Inf(-1)), float32(math.Inf(-1))
				for _, v := range grp {
					if v > a {
						a, b = v, a
					} else if v > b {
						b = v
					}
				}
				s = a
				if per > 1 {
					s = a + b
				}
			} else {
				s = float32(math.Inf(-1))
				for _, v := range grp {
					s = max(s, v)
				}
			}
			groups = append(groups, gs{g, s})
		}
		// stable insertion sort by descending score (few groups)
		for i := 1; i < len(groups); i++ {
			for j := i; j > 0 && groups[j].score > groups[j-1].score; j-- {
				groups[j], groups[j-1] = groups[j-1], groups[j]
			}
		}
		for _, g := range groups[c.NExpertGroupUse:] {
			for e := g.g * per; e < (g.g+1)*per; e++ {
				sel[e] = float32(math.Inf(-1))
			}
		}
	}
	topK(sel, ids)
	var sum float32
	for k, e := range ids {
		w[k] = probs[e]
		sum += w[k]
	}
	for k := range w {
		if c.ExpertWeightsNorm {
			w[k] /= sum
		}
		w[k] *= c.ExpertWeightsScale
	}
}

// topK writes the indices of the len(ids) largest values of v into ids, in
// descending order of value (ties: lower index first).
func topK(v []float32, ids []int32) {
	k := len(ids)
	n := 0
	for e, x := range v {
		// insertion into the sorted prefix ids[:n]
		if n == k && !(x > v[ids[k-1]]) {
			continue
		}
		i := n
		if n < k {
			n++
		} else {
			i = k - 1
		}
		for i > 0 && x > v[ids[i-1]] {
			ids[i] = ids[i-1]
			i--
		}
		ids[i] = int32(e)
	}
}

// forward computes out [n, n_embd] from h [n, n_embd]. Tokens are grouped by
// expert so each expert's weights are read once per batch.
func (m *moeFFN) forward(r *run, il int, h, out []float32, n int) error {
	c := m.cfg
	E, K, D, nff := c.NExpert, c.NExpertUsed, c.NEmbd, c.NFFExpert
	logits := r.s.get("moe_logits", n*E)
	if err := r.matmul(&m.gateInp, h, n, logits); err != nil {
		return fmt.Errorf("model: blk.%d.ffn_gate_inp: %w", il, err)
	}
	probs := r.s.get("moe_probs", n*E)
	sel := r.s.get("moe_sel", E)
	wts := r.s.get("moe_w", n*K)
	ids := r.s.geti("moe_ids", n*K)
	for t := 0; t < n; t++ {
		m.route(logits[t*E:(t+1)*E], probs[t*E:(t+1)*E], sel, ids[t*K:(t+1)*K], wts[t*K:(t+1)*K])
		if r.m.opt.RouterHook != nil {
			r.m.opt.RouterHook(il, t, Routing{Probs: probs[t*E : (t+1)*E], Selected: ids[t*K : (t+1)*K], Weights: wts[t*K : (t+1)*K]})
		}
	}
	// expert e -> slots (t*K + k) routed to it
	for len(r.s.slots) < E {
		r.s.slots = append(r.s.slots, nil)
	}
	slots := r.s.slots[:E]
	for e := range slots {
		slots[e] = slots[e][:0]
	}
	for s, e := range ids {
		slots[e] = append(slots[e], int32(s))
	}
	expOut := r.s.get("moe_out", n*K*D)
	for e := 0; e < E; e++ {
		sl := slots[e]
		if len(sl) == 0 {
			continue
		}
		ne := len(sl)
		xe := r.s.get("moe_x", ne*D)
		for i, s := range sl {
			t := int(s) / K
			copy(xe[i*D:(i+1)*D], h[t*D:(t+1)*D])
		}
		g := r.s.get("moe_g", ne*nff)
		u := r.s.get("moe_u", ne*nff)
		ye := r.s.get("moe_y", ne*D)
		if err := r.matmul(&m.up[e], xe, ne, u); err != nil {
			return fmt.Errorf("model: blk.%d.ffn_up_exps[%d]: %w", il, e, err)
		}
		if err := r.matmul(&m.gate[e], xe, ne, g); err != nil {
			return fmt.Errorf("model: blk.%d.ffn_gate_exps[%d]: %w", il, e, err)
		}
		kernels.SwiGLU(g, g, u)
		if err := r.matmul(&m.down[e], g, ne, ye); err != nil {
			return fmt.Errorf("model: blk.%d.ffn_down_exps[%d]: %w", il, e, err)
		}
		for i, s := range sl {
			copy(expOut[int(s)*D:(int(s)+1)*D], ye[i*D:(i+1)*D])
		}
	}
	// weighted sum in selection order, as llama.cpp's llm_build_moe_ffn adds them
	for t := 0; t < n; t++ {
		o := out[t*D : (t+1)*D]
		for k := 0; k < K; k++ {
			wk := wts[t*K+k]
			src := expOut[(t*K+k)*D : (t*K+k+1)*D]
			if k == 0 {
				for i, v := range src {
					o[i] = v * wk
				}
			} else {
				for i, v := range src {
					o[i] += v * wk
				}
			}
		}
	}
	if m.shared != nil {
		sh := r.s.get("moe_shared", n*D)
		if err := m.shared.forward(r, h, sh, n, "shexp"); err != nil {
			return err
		}
		for i := 0; i < n*D; i++ {
			out[i] += sh[i]
		}
	}
	return nil
}
