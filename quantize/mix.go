package quantize

import (
	"strings"

	"github.com/dseek-ai/dseek/dtype"
)

// mixType is the body of llama_tensor_get_type (src/llama-quant.cpp,
// llama.cpp c392e509) before the row-length fallback: the per-tensor
// choices of the quantization mixes. nx is the row length.
func (c *Chooser) mixType(name string, nx uint64) (dtype.Type, error) {
	t, ft := c.def, c.ft
	switch {
	case name == "output.weight" || (!c.hasOutput && name == "token_embd.weight"):
		return c.outputType(nx), nil
	case name == "token_embd.weight":
		return c.tokenEmbdType(), nil
	case ft.isLowBitIQ():
		return c.lowBitIQType(name), nil
	case strings.Contains(name, "attn_v.weight"):
		return c.attnVType(), nil
	case strings.Contains(name, "attn_k.weight"):
		switch {
		case c.m.NExpert == 8:
			t = dtype.Q8_0
		case ft == MostlyIQ3XS:
			t = dtype.IQ3_XXS
		case ft == MostlyIQ3XXS:
			t = dtype.IQ2_S
		}
	case strings.Contains(name, "attn_q.weight"):
		switch ft {
		case MostlyIQ3XS:
			t = dtype.IQ3_XXS
		case MostlyIQ3XXS:
			t = dtype.IQ2_S
		}
	case strings.Contains(name, "ffn_down"):
		return c.ffnDownType(name)
	case strings.Contains(name, "attn_output.weight"):
		return c.attnOutputType(), nil
	case strings.Contains(name, "attn_qkv.weight"):
		switch ft {
		case MostlyQ3_K_M, MostlyQ3_K_L, MostlyIQ3M:
			t = dtype.Q4_K
		case MostlyQ4_K_M:
			t = dtype.Q5_K
		case MostlyQ5_K_M:
			t = dtype.Q6_K
		}
	case strings.Contains(name, "ffn_gate"):
		return c.gateUpType(name, &c.iFFNGate)
	case strings.Contains(name, "ffn_up"):
		return c.gateUpType(name, &c.iFFNUp)
	}
	return t, nil
}

// isLowBitIQ: the 1- and 2-bit IQ mixes, which have their own branch.
func (ft FileType) isLowBitIQ() bool {
	switch ft {
	case MostlyIQ2XXS, MostlyIQ2XS, MostlyIQ1S, MostlyIQ2S, MostlyIQ2M, MostlyIQ1M:
		return true
	}
	return false
}

// outputType: output.weight (or a tied token_embd): Q8_0 when the row is
// not a multiple of the default block, Q5_K for the low-bit IQ mixes,
// otherwise Q6_K unless the mix is Q8_0.
func (c *Chooser) outputType(nx uint64) dtype.Type {
	switch {
	case c.m.Arch == "falcon" || nx%uint64(c.def.BlockSize()) != 0:
		return dtype.Q8_0
	case c.ft == MostlyIQ2XXS || c.ft == MostlyIQ2XS || c.ft == MostlyIQ3XXS || c.ft == MostlyIQ1S ||
		c.ft == MostlyIQ2S || c.ft == MostlyIQ2M || c.ft == MostlyIQ1M:
		return dtype.Q5_K
	case c.def != dtype.Q8_0:
		return dtype.Q6_K
	}
	return c.def
}

func (c *Chooser) tokenEmbdType() dtype.Type {
	switch c.ft {
	case MostlyIQ2XXS, MostlyIQ2XS, MostlyIQ1S, MostlyIQ1M:
		return dtype.Q2_K
	case MostlyIQ2S, MostlyIQ2M, MostlyIQ3XXS:
		return dtype.IQ3_S
	case MostlyTQ1_0, MostlyTQ2_0:
		return dtype.Q4_K
	}
	return c.def
}

func (c *Chooser) lowBitIQType(name string) dtype.Type {
	ft, t := c.ft, c.def
	iq3sOr := func(other dtype.Type) dtype.Type {
		if ft == MostlyIQ2S || ft == MostlyIQ2M {
			return dtype.IQ3_S
		}
		return other
	}
	switch {
	case strings.Contains(name, "attn_v.weight"):
		if c.m.gqa() >= 4 || c.m.NExpert >= 4 {
			t = dtype.Q4_K
		} else {
			t = iq3sOr(dtype.Q2_K)
		}
		c.iAttnV++
	case c.m.NExpert == 8 && strings.Contains(name, "attn_k.weight"):
		t = dtype.Q4_K
	case strings.Contains(name, "ffn_down"):
		if c.iFFNDown < c.nFFNDown/8 {
			t = iq3sOr(dtype.Q2_K)
		}
		c.iFFNDown++
	case strings.Contains(name, "attn_output.weight"):
		switch {
		case c.m.NExpert == 8:
			t = dtype.Q5_K
		case ft == MostlyIQ1S || ft == MostlyIQ1M:
			t = dtype.IQ2_XXS
		case ft == MostlyIQ2S || ft == MostlyIQ2M:
			t = dtype.IQ3_S
		}
	}
	return t
}

func (c *Chooser) attnVType() dtype.Type {
	ft, t, gqa := c.ft, c.def, c.m.gqa()
	switch {
	case ft == MostlyQ2_K:
		t = dtype.Q3_K
		if gqa >= 4 {
			t = dtype.Q4_K
		}
	case ft == MostlyQ2_K_S && gqa >= 4:
		t = dtype.Q4_K
	case ft == MostlyIQ3XXS:
		t = dtype.IQ3_S // no importance matrix in dseek
		if gqa >= 4 {
			t = dtype.Q4_K
		}
	case (ft == MostlyIQ3XS || ft == MostlyIQ3S) && gqa >= 4:
		t = dtype.Q4_K
	case ft == MostlyIQ3M:
		t = dtype.Q4_K
	case ft == MostlyQ3_K_M:
		t = dtype.Q4_K
		if c.iAttnV < 2 {
			t = dtype.Q5_K
		}
	case ft == MostlyQ3_K_L:
		t = dtype.Q5_K
	case (ft == MostlyIQ4NL || ft == MostlyIQ4XS) && gqa >= 4:
		t = dtype.Q5_K
	case (ft == MostlyQ4_K_M || ft == MostlyQ5_K_M) && useMoreBits(c.iAttnV, c.nAttnV):
		t = dtype.Q6_K
	case ft == MostlyQ4_K_S && c.iAttnV < 4:
		t = dtype.Q5_K
	}
	if c.m.is70B() && (t == dtype.Q3_K || t == dtype.Q4_K) {
		t = dtype.Q5_K
	}
	if c.m.NExpert == 8 {
		t = dtype.Q8_0
	}
	c.iAttnV++
	return t
}

func (c *Chooser) ffnDownType(name string) (dtype.Type, error) {
	i, n, err := c.layerOf(c.iFFNDown, name)
	if err != nil {
		return 0, err
	}
	ft, t, falcon := c.ft, c.def, c.m.Arch == "falcon"
	switch {
	case ft == MostlyQ2_K:
		t = dtype.Q3_K
	case ft == MostlyQ2_K_S:
		if i < n/8 {
			t = dtype.Q4_K
		}
	case ft == MostlyIQ3XXS: // no importance matrix
		t = dtype.Q3_K
		if i < n/8 {
			t = dtype.Q4_K
		}
	case ft == MostlyQ3_K_M:
		switch {
		case i < n/16:
			t = dtype.Q5_K
		case !falcon || useMoreBits(i, n):
			t = dtype.Q4_K
		default:
			t = dtype.Q3_K
		}
	case ft == MostlyIQ3M && (i < n/8 || (c.m.NExpert == 8 && useMoreBits(i, n))):
		t = dtype.Q4_K
	case ft == MostlyQ3_K_L:
		t = dtype.Q5_K
		if falcon {
			t = dtype.Q4_K
		}
	case ft == MostlyQ4_K_M:
		switch {
		case falcon && i < n/16:
			t = dtype.Q6_K
		case falcon && useMoreBits(i, n):
			t = dtype.Q5_K
		case falcon:
			t = dtype.Q4_K
		case useMoreBits(i, n):
			t = dtype.Q6_K
		}
	case i < n/8 && (ft == MostlyIQ4NL || ft == MostlyIQ4XS):
		t = dtype.Q5_K
	case ft == MostlyQ5_K_M && useMoreBits(i, n):
		t = dtype.Q6_K
	case ft == MostlyQ4_K_S && !falcon && i < n/8:
		t = dtype.Q5_K
	}
	// (The Q4_0/Q5_0 -> Q4_1/Q5_1 rule needs an importance matrix.)
	c.iFFNDown++
	return t, nil
}

func (c *Chooser) attnOutputType() dtype.Type {
	ft, t := c.ft, c.def
	if c.m.Arch == "falcon" {
		if ft == MostlyQ3_K_L {
			t = dtype.Q4_K
		}
		return t
	}
	if c.m.NExpert == 8 {
		switch ft {
		case MostlyQ2_K, MostlyIQ3XS, MostlyIQ3XXS, MostlyQ3_K_S, MostlyQ3_K_M, MostlyIQ4NL,
			MostlyQ4_K_S, MostlyQ4_K_M, MostlyIQ3S, MostlyIQ3M, MostlyIQ4XS:
			t = dtype.Q5_K
		}
		return t
	}
	switch ft {
	case MostlyQ2_K:
		t = dtype.Q3_K
	case MostlyIQ3XXS:
		t = dtype.IQ3_S
	case MostlyQ3_K_M, MostlyIQ3M:
		t = dtype.Q4_K
	case MostlyQ3_K_L:
		t = dtype.Q5_K
	}
	return t
}

// gateUpType: ffn_gate* / ffn_up*, which only IQ3_XS changes.
func (c *Chooser) gateUpType(name string, counter *int) (dtype.Type, error) {
	i, n, err := c.layerOf(*counter, name)
	if err != nil {
		return 0, err
	}
	t := c.def
	if c.ft == MostlyIQ3XS && i >= n/8 && i < 7*n/8 {
		t = dtype.IQ3_XXS
	}
	*counter++
	return t, nil
}
