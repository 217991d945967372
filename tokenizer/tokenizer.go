package tokenizer

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
)

// TokenType is the per-token type GGUF stores in tokenizer.ggml.token_type
// (gguf-py TokenType, llama.cpp enum llama_token_type).
type TokenType int32

// Token types, with GGUF's numeric values.
const (
	TypeUndefined   TokenType = 0
	TypeNormal      TokenType = 1
	TypeUnknown     TokenType = 2
	TypeControl     TokenType = 3
	TypeUserDefined TokenType = 4
	TypeUnused      TokenType = 5
	TypeByte        TokenType = 6
)

// Attr is llama.cpp's llama_token_attr bit set for a token (the `attr`
// field of the fixtures' vocab.json).
type Attr uint32

// Token attribute bits (llama.h enum llama_token_attr).
const (
	AttrUndefined   Attr = 0
	AttrUnknown     Attr = 1 << 0
	AttrUnused      Attr = 1 << 1
	AttrNormal      Attr = 1 << 2
	AttrControl     Attr = 1 << 3
	AttrUserDefined Attr = 1 << 4
	AttrByte        Attr = 1 << 5
	AttrNormalized  Attr = 1 << 6
	AttrLStrip      Attr = 1 << 7
	AttrRStrip      Attr = 1 << 8
	AttrSingleWord  Attr = 1 << 9
)

// attrOfType converts a GGUF token type to llama.cpp's attribute, as
// llama_vocab::impl::load does; unknown values become AttrUndefined.
func attrOfType(t TokenType) Attr {
	switch t {
	case TypeUnknown:
		return AttrUnknown
	case TypeUnused:
		return AttrUnused
	case TypeNormal:
		return AttrNormal
	case TypeControl:
		return AttrControl
	case TypeUserDefined:
		return AttrUserDefined
	case TypeByte:
		return AttrByte
	}
	return AttrUndefined
}

// Special-token id names: the GGUF key of each is
// "tokenizer.ggml.<name>_token_id" (gguf-py constants Keys.Tokenizer).
const (
	SpecialBOS    = "bos"
	SpecialEOS    = "eos"
	SpecialEOT    = "eot"
	SpecialEOM    = "eom"
	SpecialUNK    = "unknown"
	SpecialSEP    = "seperator" // sic, as spelled in GGUF
	SpecialPAD    = "padding"
	SpecialMASK   = "mask"
	SpecialFIMPre = "fim_pre"
	SpecialFIMSuf = "fim_suf"
	SpecialFIMMid = "fim_mid"
	SpecialFIMPad = "fim_pad"
	SpecialFIMRep = "fim_rep"
	SpecialFIMSep = "fim_sep"
	// Deprecated aliases of fim_pre, fim_suf and fim_mid that llama.cpp
	// still reads.
	SpecialPrefix = "prefix"
	SpecialSuffix = "suffix"
	SpecialMiddle = "middle"
)

// specialKeyOrder is the order in which llama.cpp reads the special ids, so
// later keys (the deprecated fim aliases) override earlier ones.
var specialKeyOrder = []string{
	SpecialBOS, SpecialEOS, SpecialEOT, SpecialEOM, SpecialUNK, SpecialSEP, SpecialPAD, SpecialMASK,
	SpecialFIMPre, SpecialFIMSuf, SpecialFIMMid, SpecialFIMPad, SpecialFIMRep, SpecialFIMSep,
	SpecialPrefix, SpecialSuffix, SpecialMiddle,
}

// Vocab is the vocabulary data GGUF stores under tokenizer.ggml.*: what
// FromGGUF reads, what FromHF produces the way llama.cpp's
// convert_hf_to_gguf.py would write it, and what New consumes.
type Vocab struct {
	// Model is tokenizer.ggml.model; only "gpt2" (byte-level BPE) is supported.
	Model string
	// Pre is tokenizer.ggml.pre, the pre-tokenizer name ("" = key absent).
	Pre string
	// Tokens is tokenizer.ggml.tokens, [n_vocab] token texts in byte-level
	// form (GPT-2 byte runes) for NORMAL tokens, raw text for added tokens.
	Tokens []string
	// Types is tokenizer.ggml.token_type, [n_vocab]; nil = key absent (all
	// tokens are then NORMAL).
	Types []TokenType
	// Merges is tokenizer.ggml.merges in rank order, each "left right".
	Merges []string
	// SpecialIDs holds the tokenizer.ggml.<name>_token_id keys present,
	// keyed by name (SpecialBOS, SpecialEOS, ...).
	SpecialIDs map[string]int32
	// AddBOS and AddEOS are tokenizer.ggml.add_bos_token/add_eos_token;
	// nil = key absent.
	AddBOS, AddEOS *bool
	// ChatTemplate is tokenizer.chat_template ("" = absent). The tokenizer
	// does not use it; it is carried for converters and chat formatting.
	ChatTemplate string
}

// Tokenizer encodes text to token ids and decodes ids to bytes with
// llama.cpp's semantics. Create one with New, FromGGUF or FromHF.
type Tokenizer struct {
	vocab Vocab // the input data, for Vocab()
	pre   preDef
	split *preTokenizer

	texts []string         // [n_vocab] token text ("[EMPTY_i]" for empty ones)
	attrs []Attr           // [n_vocab] attributes after llama.cpp's overrides
	toID  map[string]int32 // text -> id; for duplicate texts the last id wins
	ranks map[mergeKey]int32

	special []int32  // CONTROL/USER_DEFINED/UNKNOWN ids, longest text first
	pieces  [][]byte // [n_vocab] llama_token_to_piece(id, special=true)
	eog     map[int32]bool

	ids            map[string]int32 // resolved special ids by name, absent = -1
	addBOS, addEOS bool
	maxTokenBytes  int // longest token text in bytes

	cacheMu sync.Mutex
	cache   map[string][]int32 // byte-level word -> ids
}

// mergeKey is one BPE merge pair.
type mergeKey struct{ left, right string }

// New builds a tokenizer from vocabulary data, following the gpt2 branch of
// llama.cpp's llama_vocab::impl::load: merges are split at the first space
// after position 0; empty token texts become "[EMPTY_<id>]"; special ids
// default to BOS = EOS = 11 and the rest absent, and ids out of range are
// ignored (llama.cpp warns and keeps the default); EOT, EOM and the FIM ids
// not given are found by token text; tokens found that way, and tokens whose
// text is an end-of-generation marker, are forced to CONTROL.
// It returns an error for an unsupported model or pre-tokenizer, an empty
// token list, or Types of the wrong length.
func New(v Vocab) (*Tokenizer, error) {
	if v.Model != "gpt2" {
		return nil, fmt.Errorf("tokenizer: unsupported tokenizer model %q (only gpt2 byte-level BPE)", v.Model)
	}
	if len(v.Tokens) == 0 {
		return nil, fmt.Errorf("tokenizer: empty token list")
	}
	if v.Types != nil && len(v.Types) != len(v.Tokens) {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(v.Types), len(v.Tokens))
	}
	if len(v.Tokens) > 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: %d tokens do not fit int32 ids", len(v.Tokens))
	}
	pre, err := lookupPre(v.Pre)
	if err != nil {
		return nil, err
	}
	split, err := newPreTokenizer(pre, false)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{pre: pre, split: split, cache: map[string][]int32{}}
	t.vocab = v
	t.vocab = t.Vocab() // own copies of the caller's slices
	t.loadTokens(v)
	t.loadMerges(v.Merges)
	t.loadSpecialIDs(v)
	t.detectByText()
	t.buildSpecialCache()
	t.buildPieces()
	return t, nil
}

func (t *Tokenizer) loadTokens(v Vocab) {
	n := len(v.Tokens)
	t.texts = make([]string, n)
	t.attrs = make([]Attr, n)
	t.toID = make(map[string]int32, n)
	for i, s := range v.Tokens {
		if s == "" {
			s = fmt.Sprintf("[EMPTY_%d]", i)
		}
		t.texts[i] = s
		t.maxTokenBytes = max(t.maxTokenBytes, len(s))
		t.toID[s] = int32(i)
		t.attrs[i] = AttrNormal
		if v.Types != nil {
			t.attrs[i] = attrOfType(v.Types[i])
		}
	}
}

func (t *Tokenizer) loadMerges(merges []string) {
	t.ranks = make(map[mergeKey]int32, len(merges))
	for i, m := range merges {
		var k mergeKey
		// llama.cpp: find(' ', 1); a merge without a separator maps to the
		// pair ("", "") and can never apply.
		for j := 1; j < len(m); j++ {
			if m[j] == ' ' {
				k = mergeKey{m[:j], m[j+1:]}
				break
			}
		}
		if _, dup := t.ranks[k]; !dup { // unordered_map::emplace keeps the first
			t.ranks[k] = int32(i)
		}
	}
}

func (t *Tokenizer) loadSpecialIDs(v Vocab) {
	t.ids = map[string]int32{SpecialBOS: 11, SpecialEOS: 11}
	alias := map[string]string{SpecialPrefix: SpecialFIMPre, SpecialSuffix: SpecialFIMSuf, SpecialMiddle: SpecialFIMMid}
	for _, name := range specialKeyOrder {
		id, ok := v.SpecialIDs[name]
		if !ok || id < 0 || int(id) >= len(t.texts) {
			continue
		}
		if a, ok := alias[name]; ok {
			name = a
		}
		t.ids[name] = id
	}
	t.addBOS = t.pre.addBOS
	if v.AddBOS != nil {
		t.addBOS = *v.AddBOS
	}
	if v.AddEOS != nil {
		t.addEOS = *v.AddEOS
	}
}

// textDetect lists, per special id name, the token texts llama.cpp uses to
// find that id when the GGUF does not give it.
var textDetect = []struct {
	name  string
	texts []string
}{
	{SpecialEOT, []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<EOT>", "<｜end▁of▁sentence｜>"}},
	{SpecialEOM, []string{"<|eom_id|>"}},
	{SpecialFIMPre, []string{"<|fim_prefix|>", "<fim-prefix>", "<｜fim▁begin｜>", "<PRE>"}},
	{SpecialFIMSuf, []string{"<|fim_suffix|>", "<fim-suffix>", "<｜fim▁hole｜>", "<SUF>"}},
	{SpecialFIMMid, []string{"<|fim_middle|>", "<fim-middle>", "<｜fim▁end｜>", "<MID>"}},
	{SpecialFIMPad, []string{"<|fim_pad|>", "<fim-pad>", "<PAD>"}},
	{SpecialFIMRep, []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"}},
	{SpecialFIMSep, []string{"<|file_sep|>"}},
}

// eogTexts are the token texts llama.cpp always treats as end of generation.
var eogTexts = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>"}

// detectByText reproduces llama.cpp's "auto-detect special tokens by text"
// and its end-of-generation set. llama.cpp walks an unordered_map, so when
// several candidate texts exist the one it picks is unspecified; here the
// lowest id among the candidates wins.
func (t *Tokenizer) detectByText() {
	forceControl := func(id int32) { t.attrs[id] = AttrControl }
	for _, d := range textDetect {
		if _, ok := t.ids[d.name]; ok {
			continue
		}
		best := int32(-1)
		for _, s := range d.texts {
			if id, ok := t.toID[s]; ok && (best < 0 || id < best) {
				best = id
			}
		}
		if best >= 0 {
			t.ids[d.name] = best
			if t.attrs[best]&AttrControl == 0 {
				forceControl(best)
			}
		}
	}
	t.eog = map[int32]bool{}
	for _, name := range []string{SpecialFIMPad, SpecialFIMRep, SpecialFIMSep} {
		if id, ok := t.ids[name]; ok {
			t.eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.toID[s]; ok {
			t.eog[id] = true
			if t.attrs[id]&AttrControl == 0 {
				forceControl(id)
			}
		}
	}
	for _, name := range []string{SpecialEOS, SpecialEOT, SpecialEOM} {
		if id, ok := t.ids[name]; ok {
			t.eog[id] = true
		}
	}
}

// buildSpecialCache collects the tokens that the special-token partition
// matches (CONTROL, USER_DEFINED, UNKNOWN), longest text first. llama.cpp
// sorts with an unstable sort; ties are broken by id here, which only matters
// for equal-length texts that overlap in the input.
func (t *Tokenizer) buildSpecialCache() {
	for id, a := range t.attrs {
		if a&(AttrControl|AttrUserDefined|AttrUnknown) != 0 {
			t.special = append(t.special, int32(id))
		}
	}
	sort.SliceStable(t.special, func(i, j int) bool {
		return len(t.texts[t.special[i]]) > len(t.texts[t.special[j]])
	})
}

func (t *Tokenizer) id(name string) int32 {
	if id, ok := t.ids[name]; ok {
		return id
	}
	return -1
}

// BOS returns the beginning-of-sequence id, or -1 when there is none.
func (t *Tokenizer) BOS() int32 { return t.id(SpecialBOS) }

// EOS returns the end-of-sequence id, or -1 when there is none.
func (t *Tokenizer) EOS() int32 { return t.id(SpecialEOS) }

// EOT returns the end-of-turn id (given by the GGUF or found by text as
// llama.cpp does; for DeepSeek vocabularies it is <｜end▁of▁sentence｜>), or -1.
func (t *Tokenizer) EOT() int32 { return t.id(SpecialEOT) }

// PAD returns the padding id, or -1 when there is none.
func (t *Tokenizer) PAD() int32 { return t.id(SpecialPAD) }

// SpecialID returns the resolved id for a special-token name (SpecialBOS,
// SpecialFIMPre, ...), or -1.
func (t *Tokenizer) SpecialID(name string) int32 { return t.id(name) }

// AddBOS reports whether Encode with addSpecial prepends BOS
// (tokenizer.ggml.add_bos_token, default true only for llama-bpe).
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether Encode with addSpecial appends EOS.
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// IsEOG reports whether id ends generation, by llama.cpp's rule: EOS, EOT,
// EOM, the FIM pad/repo/file-separator tokens, and the tokens whose text is
// <|eot_id|>, <|im_end|>, <|end|>, <end_of_turn>, <|endoftext|>, <|eom_id|>
// or <EOT>. For DeepSeek vocabularies that is only <｜end▁of▁sentence｜>;
// <|EOT|> is not end-of-generation for llama.cpp, so it is not here either.
func (t *Tokenizer) IsEOG(id int32) bool { return t.eog[id] }

// EOGIDs returns the end-of-generation ids in ascending order.
func (t *Tokenizer) EOGIDs() []int32 {
	out := make([]int32, 0, len(t.eog))
	for id := range t.eog {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IsControl reports whether id is a CONTROL token (after llama.cpp's
// by-text overrides).
func (t *Tokenizer) IsControl(id int32) bool { return t.Attr(id)&AttrControl != 0 }

// Attr returns the llama_token_attr bits of id (0 when out of range).
func (t *Tokenizer) Attr(id int32) Attr {
	if id < 0 || int(id) >= len(t.attrs) {
		return AttrUndefined
	}
	return t.attrs[id]
}

// VocabSize returns the number of tokens (n_vocab).
func (t *Tokenizer) VocabSize() int { return len(t.texts) }

// MaxTokenBytes is the length in bytes of the longest token text. No token
// stands for more input bytes than its text holds (a byte-level text is at
// least as long as the bytes it decodes to; special tokens match their text
// exactly; invalid UTF-8 only grows into U+FFFD), so a text of n bytes
// encodes to at least ceil(n / MaxTokenBytes) tokens besides BOS/EOS: a
// bound to refuse a prompt too long for a context without tokenizing it.
func (t *Tokenizer) MaxTokenBytes() int { return t.maxTokenBytes }

// TokenID returns the id whose stored text is exactly text.
func (t *Tokenizer) TokenID(text string) (int32, bool) {
	id, ok := t.toID[text]
	return id, ok
}

// TokenText returns the stored text of id (byte-level runes for NORMAL
// tokens), or "" when id is out of range.
func (t *Tokenizer) TokenText(id int32) string {
	if id < 0 || int(id) >= len(t.texts) {
		return ""
	}
	return t.texts[id]
}

// PreName returns the pre-tokenizer name (tokenizer.ggml.pre), "default"
// when the vocabulary had none.
func (t *Tokenizer) PreName() string { return t.pre.canon }

// Vocab returns a copy of the vocabulary data the tokenizer was built from,
// as a converter writes it to GGUF.
func (t *Tokenizer) Vocab() Vocab {
	v := t.vocab
	v.Tokens = slices.Clone(v.Tokens)
	v.Types = slices.Clone(v.Types)
	v.Merges = slices.Clone(v.Merges)
	v.SpecialIDs = maps.Clone(v.SpecialIDs)
	return v
}
