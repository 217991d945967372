package tokenizer

import (
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/dlclark/regexp2/v2"
)

// splitAlphabet mixes the characters the splitters distinguish: ASCII
// letters, digits, punctuation, every kind of whitespace (ASCII, NEL, NBSP,
// ideographic space, line separator), letters and digits of other scripts,
// marks, symbols, emoji, format and control characters and an unassigned
// code point (all as of Unicode 15.0, which Go's tables and regexp2 use).
var splitAlphabet = []string{
	"a", "Z", "é", "e\u0301", "ß", "İ", "\u01c5", "中", "の", "カ", "한", "ـ", "𝔘",
	"0", "7", "²", "Ⅻ", "٣", "'", "'s", "'S", "'ll", "'Re", "'vE", "'D", "'x",
	"!", "?", ".", ",", "$", "+", "<", "|", "`", "^", "_", "-", "~", "，", "。", "～", "«",
	" ", "  ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u0085", "\u00a0", "\u3000", "\u2028", "\u1680",
	"😀", "\u200d", "\u200b", "\x1c", "\x00", "\x7f", "\u0378", "\ufffd",
}

func randomTexts(seed int64, n, maxParts int) []string {
	r := rand.New(rand.NewSource(seed))
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 1 + r.Intn(maxParts) {
			b.WriteString(splitAlphabet[r.Intn(len(splitAlphabet))])
		}
		out[i] = b.String()
	}
	return out
}

// referencePieces splits with a backtracking regex engine the way
// unicode_regex_split_stl does (matches and the gaps between them are
// pieces), using Unicode classes directly instead of llama.cpp's custom
// code. \s is .NET's [\f\n\r\t\v\x85\p{Z}], which is the Unicode
// White_Space set llama.cpp's flags use.
func referencePieces(t *testing.T, re *regexp2.Regexp, cpts []rune) []int {
	t.Helper()
	got, err := splitRegex(re, cpts, []int{len(cpts)})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestCustomSplittersMatchRegex checks the hand-written GPT-2 and llama3
// splitters (ports of llama.cpp's custom code) against the regexes they
// implement, run by regexp2 on random mixed-script strings.
func TestCustomSplittersMatchRegex(t *testing.T) {
	cases := []struct {
		name  string
		re    string
		split func([]rune, []int) []int
	}{
		{"gpt2", reGPT2, splitGPT2},
		{"llama3", `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`, splitLlama3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			re := regexp2.MustCompile(c.re, regexp2.None)
			for _, s := range randomTexts(7, 20000, 10) {
				cpts := decodeCodepoints(s, nil)
				want := referencePieces(t, re, cpts)
				got := c.split(cpts, []int{len(cpts)})
				if !slices.Equal(got, want) {
					t.Fatalf("%q: custom %v regex %v", s, got, want)
				}
			}
		})
	}
}

// TestTranslateRegex pins the rewriting of llama.cpp regexes for regexp2
// (values worked out by hand from unicode_regex_split's k_ucat_map).
func TestTranslateRegex(t *testing.T) {
	cases := []struct{ in, want string }{
		{`\p{N}{1,3}`, `[\u00D10-9]{1,3}`},
		{`[^\s\p{L}\p{N}]+`, `[^\t\n\v\f\r \u00D2A-Za-z\u00D10-9]+`},
		{`\s+(?!\S)|\s+`, `[\t\n\v\f\r ]+(?![^\t\n\v\f\r ])|[\t\n\v\f\r ]+`},
		{`\s+$`, `[\t\n\v\f\r ]+\z`},
		{`[\p{P}\$\+<=>\^~\|]+`, `[\u00D3!-#%-*,-/:-;?-@\[-\]_\{\}\$\+<=>\^~\|]+`},
		{`[\\\]^_]`, `[\\\]^_]`},
	}
	for _, c := range cases {
		got, err := translateRegex(c.in)
		if err != nil || got != c.want {
			t.Errorf("translateRegex(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestCollapsedQuirks pins two behaviours of llama.cpp's collapsed matching
// that differ from Hugging Face tokenizers and that dseek keeps: ASCII '~'
// is in neither \p{P} nor \p{S} (k_ucat_map lists $+<=>^`| as symbols), and
// U+0085 counts as whitespace. Expected pieces worked out by hand from the
// deepseek-v3 regexes.
func TestCollapsedQuirks(t *testing.T) {
	p, err := newPreTokenizer(defDSV3, false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		in   string
		want []string
	}{
		{"  ~", []string{" ", " ", "~"}},   // HF: " ", " ~"
		{"~'s", []string{"~", "'s"}},       // HF: "~'", "s"
		{"  \u0085", []string{"  \u0085"}}, // JS port: " ", " ", "\u0085"
		{"a+b", []string{"a", "+b"}},       // '+' is a symbol: first alternative
		{"12345", []string{"123", "45"}},   // \p{N}{1,3}
		{"中文abc", []string{"中文", "abc"}},   // CJK run split first
	}
	for _, c := range cases {
		cpts := decodeCodepoints(c.in, nil)
		offs, err := p.split(cpts)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		start := 0
		for _, n := range offs {
			got = append(got, string(cpts[start:start+n]))
			start += n
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: pieces %q, want %q", c.in, got, c.want)
		}
	}
}

// TestFastSplittersMatchRegex checks the hand-written deepseek-v3 matchers
// against the same regexes run by regexp2, on the fixture strings and on
// random mixed-script strings.
func TestFastSplittersMatchRegex(t *testing.T) {
	fast, err := newPreTokenizer(defDSV3, false)
	if err != nil {
		t.Fatal(err)
	}
	slow, err := newPreTokenizer(defDSV3, true)
	if err != nil {
		t.Fatal(err)
	}
	if fast.steps[2].fast == nil || slow.steps[2].fast != nil {
		t.Fatal("fast matchers not wired as expected")
	}
	texts := append(seedTexts(t), randomTexts(13, 30000, 12)...)
	for _, s := range texts {
		cpts := decodeCodepoints(s, nil)
		want, err := slow.split(cpts)
		if err != nil {
			t.Fatal(err)
		}
		got, err := fast.split(cpts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%q: fast %v regex %v", s, got, want)
		}
	}
}

// TestAllPreTokenizersCompile builds every accepted pre-tokenizer name and
// splits a sample text (the pieces must cover it exactly).
func TestAllPreTokenizersCompile(t *testing.T) {
	names := []string{"", "default", "gpt-2", "llama3", "llama-v3", "llama-bpe", "falcon3",
		"deepseek-llm", "deepseek-coder", "deepseek-v3", "qwen2", "deepseek-r1-qwen"}
	for _, name := range names {
		d, err := lookupPre(name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		p, err := newPreTokenizer(d, false)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		for _, s := range seedTexts(t) {
			cpts := decodeCodepoints(s, nil)
			offs, err := p.split(cpts)
			if err != nil {
				t.Fatal(err)
			}
			sum := 0
			for _, n := range offs {
				if n <= 0 {
					t.Fatalf("%q on %q: empty piece in %v", name, s, offs)
				}
				sum += n
			}
			if sum != len(cpts) {
				t.Fatalf("%q on %q: pieces cover %d of %d code points", name, s, sum, len(cpts))
			}
		}
	}
	if _, err := lookupPre("gpt2"); err == nil {
		t.Error(`"gpt2" is not a llama.cpp pre-tokenizer name and must be rejected`)
	}
}
