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
	wo       kernels.Matrix   // [n_embd, n_head·v]
	ukHead   []kernels.Matrix // per head: W_UKᵀ [kv_lora, nope] (views of wkB)
	uvHead   []kernels.Matrix // per head: W_UV [v, kv_lora] (views of wvB or wkvB)

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
		if b.err == nil {
			L.ukHead, L.uvHead = make([]kernels.Matrix, H), make([]kernels.Matrix, H)
			for hh := 0; hh < H; hh++ {
				L.ukHead[hh] = L.wkB.SubRows(hh*kvl, (hh+1)*kvl)
				if L.splitKVB {
					L.uvHead[hh] = L.wvB.SubRows(hh*vd, (hh+1)*vd)
				} else {
					L.uvHead[hh] = L.wkvB.SubRows(hh*(nope+vd)+nope, (hh+1)*(nope+vd))
				}
			}
		}
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
	groups := "no expert groups"
	if c.NExpertGroup > 1 {
		groups = fmt.Sprintf("%d expert groups, %d used", c.NExpertGroup, c.NExpertGroupUse)
	}
	return fmt.Sprintf("MLA (%s, kv_lora_rank %d, qk_nope %d, qk_rope %d, v %d), %d dense + %d MoE layers, %d routed experts (top-%d, %s, %s), %d shared",
		q, c.KVLoraRank, c.QKNopeHeadDim, c.QKRopeHeadDim, c.VHeadDim, c.NLayerDenseLead, c.NLayer-c.NLayerDenseLead,
		c.NExpert, c.NExpertUsed, score, groups, c.NExpertShared)
}

func (d *deepseek2) ffn(r *run, il int, h, out []float32, n int) error {
	L := &d.layers[il]
	if L.dense {
		return L.ffn.forward(r, h, out, n, "ffn")
	}
	return L.moe.forward(r, il, h, out, n)
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
