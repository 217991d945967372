package synth

import (
	"fmt"
	"math/rand/v2"
	"unicode/utf8"

	"github.com/dseek-ai/dseek/tokenizer"
)

// VocabSpec describes a synthetic byte-level BPE vocabulary with the layout
// of a real one: the same size, ordinary tokens in the same id range, the
// special tokens of the real model at their real ids, and "[PAD<id>]" UNUSED
// fillers where the real config's vocab_size exceeds the tokenizer (as the
// converter's get_vocab_base writes them).
//
// The ordinary tokens are synthetic: the 256 byte symbols of GPT-2's
// bytes_to_unicode map first, then one token per merge, each merge joining
// two earlier tokens chosen by a fixed-seed generator (so the merge list is
// valid BPE: both halves and their concatenation are tokens, ranks in
// creation order). Text tokenizes to valid ids and decodes back to the same
// bytes, but the segmentation is not the real model's.
type VocabSpec struct {
	Size         int    // tokens in the GGUF token list (= output rows)
	Pre          string // tokenizer.ggml.pre (llama.cpp pre-tokenizer name)
	NormalStart  int    // first ordinary token id
	NormalEnd    int    // one past the last ordinary token id
	Specials     []SpecialToken
	BOS, EOS     int32
	PAD          int32 // -1 = no padding_token_id
	AddBOS       bool
	ChatTemplate string
}

// SpecialToken is an added token of the real tokenizer at its real id.
type SpecialToken struct {
	ID   int32
	Text string
	Type tokenizer.TokenType // CONTROL or USER_DEFINED, as the converter classifies it
}

func (v *VocabSpec) validate() error {
	if v.NormalStart < 0 || v.NormalEnd-v.NormalStart < 256 || v.NormalEnd > v.Size {
		return fmt.Errorf("synth: vocabulary: ordinary range [%d,%d) must hold the 256 byte symbols inside %d tokens", v.NormalStart, v.NormalEnd, v.Size)
	}
	seen := map[int32]bool{}
	for _, s := range v.Specials {
		if s.ID < 0 || int(s.ID) >= v.Size || (int(s.ID) >= v.NormalStart && int(s.ID) < v.NormalEnd) || seen[s.ID] {
			return fmt.Errorf("synth: vocabulary: special token %q id %d is out of range, ordinary or repeated", s.Text, s.ID)
		}
		seen[s.ID] = true
	}
	for _, id := range []int32{v.BOS, v.EOS} {
		if id < 0 || int(id) >= v.Size {
			return fmt.Errorf("synth: vocabulary: BOS/EOS id %d out of range", id)
		}
	}
	return nil
}

// byteSymbols returns the 256 byte-level symbols in GPT-2's bytes_to_unicode
// order: the printable bytes keep their code point, the rest map to U+0100+n.
func byteSymbols() []string {
	var bs []int
	for b := '!'; b <= '~'; b++ {
		bs = append(bs, int(b))
	}
	for b := 0xA1; b <= 0xAC; b++ {
		bs = append(bs, b)
	}
	for b := 0xAE; b <= 0xFF; b++ {
		bs = append(bs, b)
	}
	in := map[int]bool{}
	for _, b := range bs {
		in[b] = true
	}
	out := make([]string, 0, 256)
	for _, b := range bs {
		out = append(out, string(rune(b)))
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !in[b] {
			out = append(out, string(rune(256+n)))
			n++
		}
	}
	return out
}

// maxTokenRunes bounds the length of synthetic merged tokens.
const maxTokenRunes = 12

// Build returns the token list [Size], token types [Size] (llama.cpp
// TokenType values) and merges [NormalEnd-NormalStart-256] ("left right").
// The result depends only on the spec (fixed generator seed).
func (v *VocabSpec) Build() (tokens []string, types []int32, merges []string, err error) {
	if err := v.validate(); err != nil {
		return nil, nil, nil, err
	}
	tokens = make([]string, v.Size)
	types = make([]int32, v.Size)
	seen := make(map[string]bool, v.Size)
	for _, s := range v.Specials {
		tokens[s.ID] = s.Text
		types[s.ID] = int32(s.Type)
		seen[s.Text] = true
	}
	sym := byteSymbols()
	for i, s := range sym {
		tokens[v.NormalStart+i] = s
		types[v.NormalStart+i] = int32(tokenizer.TypeNormal)
		seen[s] = true
	}
	rng := rand.New(rand.NewPCG(0x5eed, uint64(v.Size)))
	nm := v.NormalEnd - v.NormalStart - 256
	merges = make([]string, 0, nm)
	made := append([]string(nil), sym...)
	for len(merges) < nm {
		// Left: any token made so far; right: mostly a byte symbol, sometimes
		// another merged token, so tokens grow like words.
		a := made[rng.IntN(len(made))]
		var b string
		if rng.IntN(4) == 0 {
			b = made[rng.IntN(len(made))]
		} else {
			b = sym[rng.IntN(len(sym))]
		}
		s := a + b
		if utf8.RuneCountInString(s) > maxTokenRunes || seen[s] {
			continue
		}
		seen[s] = true
		id := v.NormalStart + len(made)
		tokens[id] = s
		types[id] = int32(tokenizer.TypeNormal)
		made = append(made, s)
		merges = append(merges, a+" "+b)
	}
	for i := range tokens {
		if tokens[i] == "" {
			tokens[i] = fmt.Sprintf("[PAD%d]", i)
			types[i] = int32(tokenizer.TypeUnused)
			if seen[tokens[i]] {
				return nil, nil, nil, fmt.Errorf("synth: vocabulary: filler %q collides with a token", tokens[i])
			}
		}
	}
	return tokens, types, merges, nil
}

func control(id int32, text string) SpecialToken {
	return SpecialToken{ID: id, Text: text, Type: tokenizer.TypeControl}
}

func userDef(id int32, text string) SpecialToken {
	return SpecialToken{ID: id, Text: text, Type: tokenizer.TypeUserDefined}
}

// Own compact chat templates producing the models' prompt formats
// (DEEPSEEK-MODELS.md §5): DeepSeek-V2 "User: ...\n\nAssistant:" and the R1
// format with a forced "<think>\n".
const (
	templateV2 = "{{ bos_token }}{% for m in messages %}" +
		"{% if m['role'] == 'system' %}{{ m['content'] + '\n\n' }}" +
		"{% elif m['role'] == 'user' %}{{ 'User: ' + m['content'] + '\n\n' }}" +
		"{% elif m['role'] == 'assistant' %}{{ 'Assistant: ' + m['content'] + eos_token }}{% endif %}" +
		"{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
	templateR1 = "{{ bos_token }}{% for m in messages %}" +
		"{% if m['role'] == 'system' %}{{ m['content'] }}" +
		"{% elif m['role'] == 'user' %}{{ '<｜User｜>' + m['content'] }}" +
		"{% elif m['role'] == 'assistant' %}{% set c = m['content'] %}" +
		"{% if '</think>' in c %}{% set c = c.split('</think>')[-1] %}{% endif %}" +
		"{{ '<｜Assistant｜>' + c + '<｜end▁of▁sentence｜>' }}{% endif %}" +
		"{% endfor %}{% if add_generation_prompt %}{{ '<｜Assistant｜><think>\n' }}{% endif %}"
)

// vocabDeepseekLLM: DeepSeek-V2(-Lite) — 100000 ordinary tokens, specials
// from 100000 (BOS) and 100001 (EOS), vocab_size 102400.
func vocabDeepseekLLM() VocabSpec {
	sp := []SpecialToken{
		control(100000, "<｜begin▁of▁sentence｜>"), control(100001, "<｜end▁of▁sentence｜>"),
		control(100002, "<｜fim▁hole｜>"), control(100003, "<｜fim▁begin｜>"), control(100004, "<｜fim▁end｜>"),
	}
	for i := int32(0); i < 10; i++ {
		sp = append(sp, control(100005+i, fmt.Sprintf("<｜place▁holder▁no▁%d｜>", i)))
	}
	return VocabSpec{Size: 102400, Pre: "deepseek-llm", NormalStart: 0, NormalEnd: 100000, Specials: sp,
		BOS: 100000, EOS: 100001, PAD: 100001, AddBOS: true, ChatTemplate: templateV2}
}

// vocabDeepseekV3: DeepSeek-V3/R1 — BOS 0, EOS 1, pad 2, ordinary tokens up
// to 128000, placeholders, think/FIM/chat/tool tokens up to 128814,
// vocab_size 129280.
func vocabDeepseekV3() VocabSpec {
	sp := []SpecialToken{control(0, "<｜begin▁of▁sentence｜>"), control(1, "<｜end▁of▁sentence｜>"), control(2, "<｜▁pad▁｜>")}
	for i := int32(0); i < 798; i++ {
		sp = append(sp, control(128000+i, fmt.Sprintf("<｜place▁holder▁no▁%d｜>", i)))
	}
	sp = append(sp, userDef(128798, "<think>"), userDef(128799, "</think>"))
	for i, t := range []string{"<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>", "<｜User｜>", "<｜Assistant｜>",
		"<|EOT|>", "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
		"<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>", "<｜tool▁sep｜>"} {
		sp = append(sp, control(128800+int32(i), t))
	}
	return VocabSpec{Size: 129280, Pre: "deepseek-v3", NormalStart: 3, NormalEnd: 128000, Specials: sp,
		BOS: 0, EOS: 1, PAD: 1, AddBOS: true, ChatTemplate: templateR1}
}

// vocabDistillQwen: R1-Distill-Qwen — Qwen2.5's 151643 ordinary tokens, the
// 22 added tokens with DeepSeek's remapped BOS 151646 / EOS 151643, and
// [PAD] fillers up to vocab_size 151936.
func vocabDistillQwen() VocabSpec {
	texts := []string{"<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<｜begin▁of▁sentence｜>", "<|EOT|>",
		"<think>", "</think>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
		"<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
		"<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"}
	var sp []SpecialToken
	for i, t := range texts {
		id := 151643 + int32(i)
		if t == "<think>" || t == "</think>" || t == "<tool_call>" || t == "</tool_call>" {
			sp = append(sp, userDef(id, t))
		} else {
			sp = append(sp, control(id, t))
		}
	}
	return VocabSpec{Size: 151936, Pre: "deepseek-r1-qwen", NormalStart: 0, NormalEnd: 151643, Specials: sp,
		BOS: 151646, EOS: 151643, PAD: 151643, AddBOS: true, ChatTemplate: templateR1}
}

// vocabDistillLlama: R1-Distill-Llama — Llama-3's 128000 ordinary tokens and
// 256 special tokens (DeepSeek's BOS 128000, EOS 128001, chat and think
// tokens at 128011-128015), vocab_size 128256.
func vocabDistillLlama() VocabSpec {
	var sp []SpecialToken
	named := map[int32]SpecialToken{
		128000: control(128000, "<｜begin▁of▁sentence｜>"), 128001: control(128001, "<｜end▁of▁sentence｜>"),
		128011: control(128011, "<｜User｜>"), 128012: control(128012, "<｜Assistant｜>"),
		128013: userDef(128013, "<think>"), 128014: userDef(128014, "</think>"),
		128015: control(128015, "<｜▁pad▁｜>"),
	}
	for id := int32(128000); id < 128256; id++ {
		if t, ok := named[id]; ok {
			sp = append(sp, t)
		} else {
			sp = append(sp, control(id, fmt.Sprintf("<|reserved_special_token_%d|>", id-128000)))
		}
	}
	return VocabSpec{Size: 128256, Pre: "llama-bpe", NormalStart: 0, NormalEnd: 128000, Specials: sp,
		BOS: 128000, EOS: 128001, PAD: 128001, AddBOS: true, ChatTemplate: templateR1}
}
