package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// hfTokenizer is the part of a Hugging Face tokenizer.json this package reads.
type hfTokenizer struct {
	AddedTokens []hfAddedToken  `json:"added_tokens"`
	Normalizer  json.RawMessage `json:"normalizer"`
	PreTok      json.RawMessage `json:"pre_tokenizer"`
	Model       struct {
		Type         string           `json:"type"`
		Vocab        map[string]int64 `json:"vocab"`
		Merges       json.RawMessage  `json:"merges"`
		ByteFallback bool             `json:"byte_fallback"`
	} `json:"model"`
}

type hfAddedToken struct {
	ID         int64  `json:"id"`
	Content    string `json:"content"`
	Special    bool   `json:"special"`
	Normalized bool   `json:"normalized"`
}

// hfPreTok is one pre-tokenizer node of tokenizer.json.
type hfPreTok struct {
	Type          string     `json:"type"`
	PreTokenizers []hfPreTok `json:"pretokenizers"`
	Pattern       struct {
		Regex  *string `json:"Regex"`
		String *string `json:"String"`
	} `json:"pattern"`
	Behavior         string `json:"behavior"`
	Invert           bool   `json:"invert"`
	IndividualDigits bool   `json:"individual_digits"`
	AddPrefixSpace   bool   `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
}

// HF pre-tokenizer regexes as tokenizer.json spells them (before llama.cpp's
// rewrites).
const (
	hfLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	hfQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// hfPreSignatures maps the flattened step list of a tokenizer.json
// pre_tokenizer to the llama.cpp pre-tokenizer name that convert_hf_to_gguf.py
// assigns to that model family. "split:" steps carry the regex, "digits"
// is Digits(individual_digits=true), "bytelevel" is ByteLevel without its
// own regex and "bytelevel+regex" with the GPT-2 regex.
var hfPreSignatures = []struct {
	name  string
	steps []string
}{
	{"deepseek-v3", []string{"split:" + reDSV3Digits, "split:" + reDSV3CJK, "split:" + reDSV3Words, "bytelevel"}},
	{"deepseek-llm", []string{"split:[\r\n]", "split:" + reDSLLMLetters, "split:" + reDSLLMPunct, `split:\s+$`, "split:" + reDSCJK, "digits", "bytelevel"}},
	{"deepseek-coder", []string{"split:[\r\n]", `split:\s?\p{L}+`, `split:\s?\p{P}+`, "split:" + reDSCJK, "digits", "bytelevel"}},
	{"qwen2", []string{"split:" + hfQwen2, "bytelevel"}},
	{"llama-bpe", []string{"split:" + hfLlama3, "bytelevel"}},
	{"gpt-2", []string{"bytelevel+regex"}},
}

// flattenPreTok turns a pre_tokenizer tree into its step list, rejecting
// node options this package cannot reproduce.
func flattenPreTok(p hfPreTok, out []string) ([]string, error) {
	switch p.Type {
	case "Sequence":
		for _, c := range p.PreTokenizers {
			var err error
			if out, err = flattenPreTok(c, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "Split":
		if p.Pattern.Regex == nil || p.Behavior != "Isolated" || p.Invert {
			return nil, fmt.Errorf("tokenizer: unsupported Split pre-tokenizer (need an Isolated, non-inverted Regex)")
		}
		return append(out, "split:"+*p.Pattern.Regex), nil
	case "Digits":
		if !p.IndividualDigits {
			return append(out, "digits+"), nil
		}
		return append(out, "digits"), nil
	case "ByteLevel":
		if p.AddPrefixSpace {
			return nil, fmt.Errorf("tokenizer: ByteLevel pre-tokenizer with add_prefix_space is not supported")
		}
		if p.UseRegex == nil || *p.UseRegex {
			return append(out, "bytelevel+regex"), nil
		}
		return append(out, "bytelevel"), nil
	}
	return nil, fmt.Errorf("tokenizer: unsupported pre-tokenizer type %q", p.Type)
}

// hfPreName maps a tokenizer.json pre_tokenizer to a llama.cpp pre name.
// Qwen2-style regexes map to "qwen2" (a DeepSeek-R1-Distill-Qwen converter
// would write "deepseek-r1-qwen"; llama.cpp treats both the same).
func hfPreName(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", fmt.Errorf("tokenizer: tokenizer.json has no pre_tokenizer")
	}
	var p hfPreTok
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("tokenizer: pre_tokenizer: %w", err)
	}
	steps, err := flattenPreTok(p, nil)
	if err != nil {
		return "", err
	}
	for _, sig := range hfPreSignatures {
		if strings.Join(sig.steps, "\x00") == strings.Join(steps, "\x00") {
			return sig.name, nil
		}
	}
	return "", fmt.Errorf("tokenizer: unrecognised pre_tokenizer %q; known: deepseek-v3, deepseek-llm, deepseek-coder, qwen2, llama-bpe, gpt-2", steps)
}

// checkNormalizer accepts no normalizer, an empty Sequence, or NFC (Qwen2's;
// llama.cpp ignores it, and so does this package).
func checkNormalizer(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return fmt.Errorf("tokenizer: normalizer: %w", err)
	}
	if (n.Type == "Sequence" && len(n.Normalizers) == 0) || n.Type == "NFC" {
		return nil
	}
	return fmt.Errorf("tokenizer: unsupported normalizer %s", raw)
}

// parseMerges reads model.merges in either the "a b" string form or the
// [a, b] pair form of newer tokenizers; in the pair form spaces inside a part
// are written as U+0120, as gguf-py's SpecialVocab does.
func parseMerges(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, fmt.Errorf("tokenizer: tokenizer.json has no merges")
	}
	var asStrings []string
	if err := json.Unmarshal(raw, &asStrings); err == nil {
		return asStrings, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf("tokenizer: unknown merges format: %w", err)
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("tokenizer: merge %d has %d parts", i, len(p))
		}
		out[i] = strings.ReplaceAll(p[0], " ", "\u0120") + " " + strings.ReplaceAll(p[1], " ", "\u0120")
	}
	return out, nil
}

// looksSpecial is convert_hf_to_gguf.py's does_token_look_special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<｜") && strings.HasSuffix(s, "｜>")) ||
		(strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">"))
}

// hfConfig is the part of tokenizer_config.json this package reads.
type hfConfig map[string]json.RawMessage

// tokenContent returns the content of a "<typ>_token" entry (a string or an
// AddedToken object).
func (c hfConfig) tokenContent(key string) (string, bool) {
	raw, ok := c[key]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.Content != nil {
		return *obj.Content, true
	}
	return "", false
}

func (c hfConfig) boolean(key string) *bool {
	var b bool
	if raw, ok := c[key]; ok && json.Unmarshal(raw, &b) == nil {
		return &b
	}
	return nil
}

// hfSpecialNames maps tokenizer_config.json's <typ>_token entries to the
// special-id names; cls has no GGUF key and is skipped, as in gguf-py.
var hfSpecialNames = []struct{ typ, name string }{
	{"bos", SpecialBOS}, {"eos", SpecialEOS}, {"unk", SpecialUNK},
	{"sep", SpecialSEP}, {"pad", SpecialPAD}, {"mask", SpecialMASK},
}

// FromHF builds a tokenizer from a Hugging Face tokenizer.json (a BPE model
// with byte-level pre-tokenization) and its tokenizer_config.json, producing
// the vocabulary convert_hf_to_gguf.py would write (see ConvertHF) and then
// tokenizing with llama.cpp's rules for it. Errors: a non-BPE or
// byte-fallback model, a normalizer other than none/empty/NFC, a
// pre_tokenizer that matches none of the known families, malformed JSON.
func FromHF(tokenizerJSON, tokenizerConfigJSON []byte) (*Tokenizer, error) {
	v, err := ConvertHF(tokenizerJSON, tokenizerConfigJSON)
	if err != nil {
		return nil, err
	}
	return New(v)
}

// ConvertHF returns the GGUF vocabulary data for a Hugging Face tokenizer the
// way llama.cpp's convert_hf_to_gguf.py (_set_vocab_gpt2, get_vocab_base)
// and gguf-py's SpecialVocab produce it: tokens by id, with "[PAD<i>]"
// UNUSED entries for ids nobody uses; added tokens typed CONTROL when
// `special` or when they look like <|...|>/<｜...｜>, USER_DEFINED otherwise
// (with ▁ turned into a space); the rest NORMAL; merges; bos/eos/unk/sep/
// pad/mask ids from the *_token entries of tokenizer_config.json looked up
// among the added tokens; add_bos/add_eos; the chat template. The
// vocabulary size is the highest id + 1; use PadTo for a model whose
// config.json vocab_size is larger.
func ConvertHF(tokenizerJSON, tokenizerConfigJSON []byte) (Vocab, error) {
	var tj hfTokenizer
	if err := json.Unmarshal(tokenizerJSON, &tj); err != nil {
		return Vocab{}, fmt.Errorf("tokenizer: tokenizer.json: %w", err)
	}
	if tj.Model.Type != "BPE" {
		return Vocab{}, fmt.Errorf("tokenizer: tokenizer.json model type %q, want BPE", tj.Model.Type)
	}
	if tj.Model.ByteFallback {
		return Vocab{}, fmt.Errorf("tokenizer: byte_fallback BPE (SentencePiece style) is not supported")
	}
	if err := checkNormalizer(tj.Normalizer); err != nil {
		return Vocab{}, err
	}
	pre, err := hfPreName(tj.PreTok)
	if err != nil {
		return Vocab{}, err
	}
	merges, err := parseMerges(tj.Model.Merges)
	if err != nil {
		return Vocab{}, err
	}
	cfg := hfConfig{}
	if len(tokenizerConfigJSON) > 0 {
		if err := json.Unmarshal(tokenizerConfigJSON, &cfg); err != nil {
			return Vocab{}, fmt.Errorf("tokenizer: tokenizer_config.json: %w", err)
		}
	}
	v := Vocab{Model: "gpt2", Pre: pre, Merges: merges, SpecialIDs: map[string]int32{}}
	if err := v.fillTokens(tj); err != nil {
		return Vocab{}, err
	}
	for _, s := range hfSpecialNames {
		content, ok := cfg.tokenContent(s.typ + "_token")
		if !ok {
			continue
		}
		for _, at := range tj.AddedTokens {
			if at.Content == content {
				v.SpecialIDs[s.name] = int32(at.ID)
				break
			}
		}
	}
	v.AddBOS = cfg.boolean("add_bos_token")
	v.AddEOS = cfg.boolean("add_eos_token")
	if raw, ok := cfg["chat_template"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			v.ChatTemplate = s
		}
	}
	return v, nil
}

// fillTokens lays out tokens and types by id.
func (v *Vocab) fillTokens(tj hfTokenizer) error {
	byID := map[int64]string{}
	maxID := int64(-1)
	for s, id := range tj.Model.Vocab {
		byID[id] = s
		maxID = max(maxID, id)
	}
	added := map[string]hfAddedToken{}
	for _, at := range tj.AddedTokens {
		byID[at.ID] = at.Content
		added[at.Content] = at
		maxID = max(maxID, at.ID)
	}
	for id := range byID {
		if id < 0 || id >= 1<<31-1 {
			return fmt.Errorf("tokenizer: token id %d out of range", id)
		}
	}
	n := int(maxID + 1)
	if n == 0 {
		return fmt.Errorf("tokenizer: tokenizer.json has no tokens")
	}
	v.Tokens = make([]string, n)
	v.Types = make([]TokenType, n)
	for i := range n {
		s, ok := byID[int64(i)]
		switch at, isAdded := added[s]; {
		case !ok:
			s = fmt.Sprintf("[PAD%d]", i)
			v.Types[i] = TypeUnused
		case isAdded && (at.Special || looksSpecial(s)):
			v.Types[i] = TypeControl
		case isAdded:
			s = strings.ReplaceAll(s, "▁", " ")
			v.Types[i] = TypeUserDefined
		default:
			v.Types[i] = TypeNormal
		}
		v.Tokens[i] = s
	}
	return nil
}

// PadTo extends the vocabulary to n tokens with "[PAD<i>]" UNUSED entries,
// as convert_hf_to_gguf.py does up to config.json's vocab_size (DeepSeek-V3:
// 129280). It returns an error if the vocabulary is already larger than n.
func (v *Vocab) PadTo(n int) error {
	if n < len(v.Tokens) {
		return fmt.Errorf("tokenizer: cannot pad %d tokens down to %d", len(v.Tokens), n)
	}
	for i := len(v.Tokens); i < n; i++ {
		v.Tokens = append(v.Tokens, fmt.Sprintf("[PAD%d]", i))
		if v.Types != nil {
			v.Types = append(v.Types, TypeUnused)
		}
	}
	return nil
}
