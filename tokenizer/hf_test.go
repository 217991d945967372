package tokenizer

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestConvertHFMatchesGGUF checks that ConvertHF turns the dsref
// tokenizer.json into exactly the vocabulary the dsref GGUFs carry (written
// with gguf-py the way convert_hf_to_gguf.py does).
func TestConvertHFMatchesGGUF(t *testing.T) {
	tj, err := os.ReadFile(fixture(t, "dsref/tokenizer/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := os.ReadFile(fixture(t, "dsref/tokenizer/tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := ConvertHF(tj, tc)
	if err != nil {
		t.Fatal(err)
	}
	want := loadGGUF(t, "dsref/gguf/dsv3-tiny-BF16.gguf").Vocab()
	if got.Model != want.Model || got.Pre != want.Pre {
		t.Errorf("model/pre %q/%q, want %q/%q", got.Model, got.Pre, want.Model, want.Pre)
	}
	if !slices.Equal(got.Tokens, want.Tokens) {
		t.Errorf("tokens differ (%d vs %d)", len(got.Tokens), len(want.Tokens))
	}
	if !slices.Equal(got.Types, want.Types) {
		for i := range min(len(got.Types), len(want.Types)) {
			if got.Types[i] != want.Types[i] {
				t.Errorf("token %d %q: type %d, want %d", i, got.Tokens[i], got.Types[i], want.Types[i])
			}
		}
	}
	if !slices.Equal(got.Merges, want.Merges) {
		t.Errorf("merges differ (%d vs %d)", len(got.Merges), len(want.Merges))
	}
	if !maps.Equal(got.SpecialIDs, want.SpecialIDs) {
		t.Errorf("special ids %v, want %v", got.SpecialIDs, want.SpecialIDs)
	}
	if got.AddBOS == nil || want.AddBOS == nil || *got.AddBOS != *want.AddBOS ||
		got.AddEOS == nil || want.AddEOS == nil || *got.AddEOS != *want.AddEOS {
		t.Errorf("add_bos/add_eos differ")
	}
	if got.ChatTemplate == "" || got.ChatTemplate != want.ChatTemplate {
		t.Errorf("chat template differs (%d vs %d bytes)", len(got.ChatTemplate), len(want.ChatTemplate))
	}
}

// hfJSON builds a minimal tokenizer.json around a pre_tokenizer.
func hfJSON(t *testing.T, pre string) []byte {
	t.Helper()
	doc := `{"added_tokens":[{"id":3,"content":"<｜x｜>","special":false,"normalized":true},{"id":4,"content":"<t▁x>","special":false,"normalized":true}],
		"normalizer":null,"pre_tokenizer":` + pre + `,
		"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":[["a","b"]]}}`
	if !json.Valid([]byte(doc)) {
		t.Fatalf("invalid test JSON: %s", doc)
	}
	return []byte(doc)
}

func split(re string) string {
	b, _ := json.Marshal(re)
	return `{"type":"Split","pattern":{"Regex":` + string(b) + `},"behavior":"Isolated","invert":false}`
}

const byteLevel = `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}`

// TestHFPreTokenizerRecognition feeds the pre_tokenizer of each supported
// family (as their tokenizer.json files spell it) and some that must be
// rejected.
func TestHFPreTokenizerRecognition(t *testing.T) {
	seq := func(parts ...string) string {
		return `{"type":"Sequence","pretokenizers":[` + strings.Join(parts, ",") + `]}`
	}
	digits := `{"type":"Digits","individual_digits":true}`
	ok := map[string]string{
		"deepseek-v3":    seq(split(reDSV3Digits), split(reDSV3CJK), split(reDSV3Words), byteLevel),
		"deepseek-llm":   seq(split("[\r\n]"), split(reDSLLMLetters), split(reDSLLMPunct), split(`\s+$`), split(reDSCJK), digits, byteLevel),
		"deepseek-coder": seq(split("[\r\n]"), split(`\s?\p{L}+`), split(`\s?\p{P}+`), split(reDSCJK), digits, byteLevel),
		"qwen2":          seq(split(hfQwen2), byteLevel),
		"llama-bpe":      seq(split(hfLlama3), byteLevel),
		"gpt-2":          `{"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":true}`,
	}
	for name, pre := range ok {
		v, err := ConvertHF(hfJSON(t, pre), nil)
		if err != nil || v.Pre != name {
			t.Errorf("%s: got pre %q, err %v", name, v.Pre, err)
			continue
		}
		if _, err := New(v); err != nil {
			t.Errorf("%s: New: %v", name, err)
		}
		// Added tokens: <｜x｜> looks special -> CONTROL; <t▁x> -> USER_DEFINED "<t x>".
		if v.Types[3] != TypeControl || v.Types[4] != TypeUserDefined || v.Tokens[4] != "<t x>" || v.Merges[0] != "a b" {
			t.Errorf("%s: types %v tokens %q merges %q", name, v.Types, v.Tokens, v.Merges)
		}
	}
	bad := []string{
		seq(split(reDSV3Digits), split(reDSV3CJK), byteLevel),                                 // a step missing
		seq(split(`\p{N}{1,4}`), split(reDSV3CJK), split(reDSV3Words), byteLevel),             // a changed regex
		seq(split(hfQwen2), `{"type":"ByteLevel","add_prefix_space":true,"use_regex":false}`), // prefix space
		`{"type":"Metaspace","replacement":"▁"}`,
		`null`,
	}
	for _, pre := range bad {
		if v, err := ConvertHF(hfJSON(t, pre), nil); err == nil {
			t.Errorf("pre_tokenizer %s accepted as %q", pre, v.Pre)
		}
	}
}

// TestNewErrors checks that unsupported vocabularies are rejected clearly.
func TestNewErrors(t *testing.T) {
	base := Vocab{Model: "gpt2", Pre: "deepseek-v3", Tokens: []string{"a", "b"}, Merges: []string{"a b"}}
	cases := map[string]func(v *Vocab){
		"unknown pre":     func(v *Vocab) { v.Pre = "deepseek-v4-flash" },
		"spm model":       func(v *Vocab) { v.Model = "llama" },
		"no tokens":       func(v *Vocab) { v.Tokens = nil },
		"types too short": func(v *Vocab) { v.Types = []TokenType{TypeNormal} },
	}
	for name, mutate := range cases {
		v := base
		mutate(&v)
		if _, err := New(v); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := New(base); err != nil {
		t.Fatalf("base vocabulary: %v", err)
	}
	for _, doc := range []string{`{`, `{"model":{"type":"Unigram"}}`, `{"model":{"type":"BPE","byte_fallback":true}}`} {
		if _, err := FromHF([]byte(doc), nil); err == nil {
			t.Errorf("FromHF(%s): no error", doc)
		}
	}
}

// TestSpecialDefaults checks llama.cpp's defaults for a bare vocabulary:
// BOS = EOS = 11 (the gpt2 defaults) when the keys are absent and the ids
// exist, EOT found by text, PAD absent.
func TestSpecialDefaults(t *testing.T) {
	toks := make([]string, 12)
	for i := range toks {
		toks[i] = string(rune('a' + i))
	}
	toks[5] = "<|im_end|>"
	tk, err := New(Vocab{Model: "gpt2", Pre: "qwen2", Tokens: toks, Merges: nil})
	if err != nil {
		t.Fatal(err)
	}
	if tk.BOS() != 11 || tk.EOS() != 11 || tk.EOT() != 5 || tk.PAD() != -1 || tk.AddBOS() || tk.AddEOS() {
		t.Errorf("bos %d eos %d eot %d pad %d add %v %v", tk.BOS(), tk.EOS(), tk.EOT(), tk.PAD(), tk.AddBOS(), tk.AddEOS())
	}
	if !tk.IsControl(5) || !tk.IsEOG(5) || !tk.IsEOG(11) || tk.IsEOG(0) {
		t.Errorf("control/eog: %v %v %v %v", tk.IsControl(5), tk.IsEOG(5), tk.IsEOG(11), tk.IsEOG(0))
	}
	if got := tk.Encode("a<|im_end|>", true, true); !slices.Equal(got, []int32{0, 5}) {
		t.Errorf("Encode with special parsing: %v, want [0 5]", got)
	}
}
