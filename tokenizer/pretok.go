package tokenizer

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/dlclark/regexp2/v2"
)

// preDef describes one llama.cpp BPE pre-tokenizer (tokenizer.ggml.pre):
// the regex list of llm_tokenizer_bpe and the vocabulary flags that
// llama_vocab::impl::load sets for that name.
type preDef struct {
	canon        string   // the name PreName reports
	regexes      []string // applied in order, each splitting the pieces of the previous one
	ignoreMerges bool     // emit a pre-token whole when it is itself a token
	cleanSpaces  bool     // detokenize applies clean_up_tokenization_spaces
	addBOS       bool     // default of add_bos when the GGUF has no key
}

// The regex strings below are the ones llama.cpp c392e50 uses
// (src/llama-vocab.cpp, llm_tokenizer_bpe). They are the Hugging Face
// pre-tokenizer patterns of each model family, some rewritten by llama.cpp
// (case-insensitive groups spelled out, Digits as \p{N}...). Non-ASCII
// characters are written as escapes on purpose: editors and tools may
// NFC-normalise literal text, which would change ranges such as U+1F5F-U+1F7D.
const (
	reGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`

	reLlama3 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	reQwen2 = `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

	reDSLLMLetters = "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+"
	reDSLLMPunct   = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"
	reDSCJK        = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"

	reDSV3Digits = `\p{N}{1,3}`
	reDSV3CJK    = "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+"
	reDSV3Words  = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
)

var (
	defDefault = preDef{canon: "default", cleanSpaces: true, regexes: []string{
		`[\p{P}\$\+<=>\^~\|]+`, reGPT2, `\p{N}+`, `[0-9][0-9][0-9]`}}
	defGPT2   = preDef{canon: "gpt-2", cleanSpaces: true, regexes: []string{reGPT2}}
	defLlama3 = preDef{canon: "llama-bpe", cleanSpaces: true, ignoreMerges: true, addBOS: true,
		regexes: []string{reLlama3}}
	defDSLLM = preDef{canon: "deepseek-llm", regexes: []string{
		"[\r\n]", reDSLLMLetters, reDSLLMPunct, `\s+$`, reDSCJK, `\p{N}+`}}
	defDSCoder = preDef{canon: "deepseek-coder", regexes: []string{
		"[\r\n]", `\s?\p{L}+`, `\s?\p{P}+`, reDSCJK, `\p{N}`}}
	defDSV3  = preDef{canon: "deepseek-v3", regexes: []string{reDSV3Digits, reDSV3CJK, reDSV3Words}}
	defQwen2 = preDef{canon: "qwen2", regexes: []string{reQwen2}}
)

// lookupPre maps a tokenizer.ggml.pre value to its definition, following the
// name table of llama_vocab::impl::load. Only the names whose behaviour this
// package reproduces are accepted; any other name is an error rather than a
// silently different split. The canonical name of an alias group is the
// first llama.cpp name, except that the name itself is kept for the
// deepseek-r1-qwen alias so PreName round-trips.
func lookupPre(name string) (preDef, error) {
	var d preDef
	switch name {
	case "", "default":
		d = defDefault
	case "gpt-2":
		d = defGPT2
	case "llama3", "llama-v3", "llama-bpe", "falcon3":
		d = defLlama3
	case "deepseek-llm":
		d = defDSLLM
	case "deepseek-coder":
		d = defDSCoder
	case "deepseek-v3":
		d = defDSV3
	case "qwen2", "deepseek-r1-qwen":
		d = defQwen2
	default:
		return preDef{}, fmt.Errorf("tokenizer: unsupported pre-tokenizer %q (supported: default, gpt-2, llama-bpe/llama3/llama-v3/falcon3, deepseek-llm, deepseek-coder, deepseek-v3, qwen2, deepseek-r1-qwen)", name)
	}
	if name != "" {
		d.canon = name
	}
	return d, nil
}

// splitStep is one regex of a pre-tokenizer, compiled.
type splitStep struct {
	custom    func(cpts []rune, offsets []int) []int // llama.cpp's hand-written gpt2/llama3 splitters
	re        *regexp2.Regexp
	fast      func(seg []rune, i int) int // hand-written equivalent of re, if any (fastsplit.go)
	collapsed bool                        // run on the category-collapsed text (the regex uses \p{..})
}

// fastMatchers maps regexes to their hand-written matchers.
var fastMatchers = map[string]func(seg []rune, i int) int{
	reDSV3Digits: matchDigits3,
	reDSV3CJK:    matchV3CJK,
	reDSV3Words:  matchV3Words,
}

// preTokenizer splits text into the words that BPE merges independently,
// reproducing llama.cpp's unicode_regex_split.
type preTokenizer struct {
	steps         []splitStep
	needsCollapse bool
	needsWide     bool
}

// newPreTokenizer compiles the regexes of d, using hand-written matchers
// where they exist unless regexOnly is set (tests compare the two).
func newPreTokenizer(d preDef, regexOnly bool) (*preTokenizer, error) {
	p := &preTokenizer{}
	for _, expr := range d.regexes {
		switch expr {
		case reGPT2:
			p.steps = append(p.steps, splitStep{custom: splitGPT2})
			continue
		case reLlama3:
			p.steps = append(p.steps, splitStep{custom: splitLlama3})
			continue
		}
		collapsed := usesCategories(expr)
		if collapsed {
			for _, r := range expr {
				if r >= 0x80 {
					return nil, fmt.Errorf("tokenizer: regex %q mixes unicode categories and non-ASCII characters", expr)
				}
			}
		}
		pat, err := translateRegex(expr)
		if err != nil {
			return nil, err
		}
		re, err := regexp2.Compile(pat, regexp2.None, regexp2.OptionMaxBacktrackingStackSize(-1))
		if err != nil {
			return nil, fmt.Errorf("tokenizer: compile pre-tokenizer regex %q: %w", expr, err)
		}
		st := splitStep{re: re, collapsed: collapsed}
		if !regexOnly {
			st.fast = fastMatchers[expr]
		}
		p.steps = append(p.steps, st)
		p.needsCollapse = p.needsCollapse || collapsed
		p.needsWide = p.needsWide || !collapsed
	}
	return p, nil
}

var categoryClasses = map[byte]string{
	// In the collapsed text every non-ASCII code point is one of these runes;
	// ASCII keeps its value, so each class also lists the ASCII members that
	// llama.cpp's k_ucat_map gives it. Note that '~' is in neither P nor S
	// there, unlike in Unicode (a llama.cpp quirk kept on purpose).
	'N': `\u00D10-9`,
	'L': `\u00D2A-Za-z`,
	'P': `\u00D3!-#%-*,-/:-;?-@\[-\]_\{\}`,
	'M': `\u00D4`,
	'S': `\u00D5\$\+<->\^` + "`" + `\|`,
}

// usesCategories reports whether expr contains \p{N}, \p{L}, \p{P}, \p{M} or
// \p{S}, in which case llama.cpp matches it against the collapsed text.
func usesCategories(expr string) bool {
	for c := range categoryClasses {
		if strings.Contains(expr, `\p{`+string(c)+`}`) {
			return true
		}
	}
	return false
}

// asciiSpace is what \s matches in llama.cpp's std::regex (C locale): the six
// ASCII whitespace characters. Non-ASCII whitespace is rewritten to \v in the
// text before matching, so this class sees it too.
const asciiSpace = `\t\n\v\f\r `

// translateRegex rewrites a llama.cpp pre-tokenizer regex for regexp2 so that
// it matches what std::regex matches on llama.cpp's rewritten text: \p{X}
// becomes the collapsed-category class, \s and \S the ASCII classes, and an
// unescaped $ outside brackets the end of input (\z; .NET's $ would also
// match before a final newline). Bracket tracking follows llama.cpp's own
// rule (a '[' or ']' preceded by a backslash does not open or close).
func translateRegex(expr string) (string, error) {
	var b strings.Builder
	inside := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '[' && (i == 0 || expr[i-1] != '\\'):
			inside = true
			b.WriteByte(c)
		case inside && c == ']' && expr[i-1] != '\\':
			inside = false
			b.WriteByte(c)
		case c == '\\' && i+1 < len(expr):
			next := expr[i+1]
			if next == 'p' && i+4 < len(expr) && expr[i+2] == '{' && expr[i+4] == '}' {
				if cls, ok := categoryClasses[expr[i+3]]; ok {
					if inside {
						b.WriteString(cls)
					} else {
						b.WriteString("[" + cls + "]")
					}
					i += 4
					continue
				}
			}
			switch {
			case next == 's' && inside:
				b.WriteString(asciiSpace)
			case next == 's':
				b.WriteString("[" + asciiSpace + "]")
			case next == 'S' && inside:
				return "", fmt.Errorf("tokenizer: \\S inside a bracket is not supported in %q", expr)
			case next == 'S':
				b.WriteString("[^" + asciiSpace + "]")
			default:
				b.WriteByte(c)
				b.WriteByte(next)
			}
			i++
		case c == '$' && !inside:
			b.WriteString(`\z`)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// split returns the pre-token lengths, in code points, of cpts (llama.cpp's
// bpe_offsets). Their sum is len(cpts).
func (p *preTokenizer) split(cpts []rune) ([]int, error) {
	offsets := []int{len(cpts)}
	var collapsed, wide []rune
	if p.needsCollapse {
		collapsed = collapseText(cpts)
	}
	if p.needsWide {
		wide = wideText(cpts)
	}
	for _, st := range p.steps {
		if st.custom != nil {
			offsets = st.custom(cpts, offsets)
			continue
		}
		text := wide
		if st.collapsed {
			text = collapsed
		}
		if st.fast != nil {
			offsets = splitWith(text, offsets, st.fast)
			continue
		}
		var err error
		if offsets, err = splitRegex(st.re, text, offsets); err != nil {
			return nil, err
		}
	}
	return offsets, nil
}

// splitRegex splits every segment of text at the matches of re; both the
// matches and the text between them become pieces (llama.cpp's
// unicode_regex_split_stl). Each segment is matched on its own, so anchors
// and look-ahead see the segment's end as the end of input.
func splitRegex(re *regexp2.Regexp, text []rune, offsets []int) ([]int, error) {
	out := make([]int, 0, len(offsets))
	start := 0
	for _, off := range offsets {
		seg := text[start : start+off]
		matches, err := re.FindAllRunesIndex(seg, -1)
		if err != nil {
			return nil, fmt.Errorf("tokenizer: pre-tokenizer regex: %w", err)
		}
		prev := 0
		for _, m := range matches {
			if m[0] > prev {
				out = append(out, m[0]-prev)
			}
			out = append(out, m[1]-m[0])
			prev = m[1]
		}
		if prev < off {
			out = append(out, off-prev)
		}
		start += off
	}
	return out, nil
}

// collapseText maps each code point to one rune the way llama.cpp builds
// text_collapsed: ASCII unchanged, whitespace to \v, N/L/P/M/S to
// U+00D1..U+00D5 and anything else (Z, C, unassigned) to U+00D0.
func collapseText(cpts []rune) []rune {
	out := make([]rune, len(cpts))
	for i, r := range cpts {
		if r < 0x80 {
			out[i] = r
			continue
		}
		f := flagsOf(r)
		switch {
		case f.is(flagWhitespace):
			out[i] = 0x0B
		case f&flagCategories == flagNumber:
			out[i] = 0xD1
		case f&flagCategories == flagLetter:
			out[i] = 0xD2
		case f&flagCategories == flagPunctuation:
			out[i] = 0xD3
		case f&flagCategories == flagAccentMark:
			out[i] = 0xD4
		case f&flagCategories == flagSymbol:
			out[i] = 0xD5
		default:
			out[i] = 0xD0
		}
	}
	return out
}

// wideText is the text llama.cpp gives std::wregex: the code points with
// every non-ASCII whitespace replaced by \v.
func wideText(cpts []rune) []rune {
	out := make([]rune, len(cpts))
	for i, r := range cpts {
		if r > 0x7F && flagsOf(r).is(flagWhitespace) {
			r = 0x0B
		}
		out[i] = r
	}
	return out
}

// segment gives the splitters bounds-checked access to one segment
// [ini, end) of the code points, as the _get_cpt/_get_flags lambdas of
// llama.cpp's custom splitters do: outside the segment the code point is
// outOfRange and the flags are 0.
type segment struct {
	cpts     []rune
	ini, end int
	prev     int
	out      []int
}

const outOfRange = -1

func (s *segment) cpt(i int) rune {
	if i >= s.ini && i < s.end {
		return s.cpts[i]
	}
	return outOfRange
}

func (s *segment) flags(i int) cptFlags {
	if i >= s.ini && i < s.end {
		return flagsOf(s.cpts[i])
	}
	return 0
}

// add closes the current piece at end and returns its length.
func (s *segment) add(end int) int {
	n := end - s.prev
	if n > 0 {
		s.out = append(s.out, n)
	}
	s.prev = end
	return n
}

// contraction reports the length (2 or 3) of an English contraction
// ('s 't 'm 'd 're 've 'll) starting at pos, or 0. lower folds case for the
// llama3 variant.
func (s *segment) contraction(pos int, lower bool) int {
	if s.cpt(pos) != '\'' || pos+1 >= s.end {
		return 0
	}
	fold := func(r rune) rune {
		if lower && r >= 0 {
			return unicode.ToLower(r)
		}
		return r
	}
	c1 := fold(s.cpt(pos + 1))
	if c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd' {
		return 2
	}
	if pos+2 < s.end {
		c2 := fold(s.cpt(pos + 2))
		if (c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l') {
			return 3
		}
	}
	return 0
}

// wsRun counts the whitespace code points from pos and returns the count
// and the position just after the last \r or \n among them (0 if none).
func (s *segment) wsRun(pos int) (n, lastRN int) {
	for s.flags(pos + n).is(flagWhitespace) {
		if c := s.cpt(pos + n); c == '\r' || c == '\n' {
			lastRN = pos + n + 1
		}
		n++
	}
	return n, lastRN
}

// forSegments runs body over every segment given by offsets and collects the
// pieces it adds.
func forSegments(cpts []rune, offsets []int, body func(s *segment)) []int {
	s := &segment{cpts: cpts, out: make([]int, 0, len(offsets))}
	start := 0
	for _, off := range offsets {
		s.ini, s.end, s.prev = start, start+off, start
		body(s)
		start += off
	}
	return s.out
}

// splitGPT2 is llama.cpp's unicode_regex_split_custom_gpt2: a hand-written
// matcher for 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
// with the full Unicode flags (no collapsing).
func splitGPT2(cpts []rune, offsets []int) []int {
	return forSegments(cpts, offsets, func(s *segment) {
		for pos := s.ini; pos < s.end; {
			if n := s.contraction(pos, false); n > 0 {
				pos += s.add(pos + n)
				continue
			}
			c := s.cpt(pos)
			f := s.flags(pos)
			if c == ' ' {
				f = s.flags(pos + 1)
			}
			optSpace := 0
			if c == ' ' {
				optSpace = 1
			}
			isOther := func(f cptFlags) bool {
				return f&(flagWhitespace|flagLetter|flagNumber) == 0 && f != 0
			}
			switch {
			case f.is(flagLetter), f.is(flagNumber), isOther(f):
				class := func(g cptFlags) bool { return g.is(flagLetter) }
				if f.is(flagNumber) {
					class = func(g cptFlags) bool { return g.is(flagNumber) }
				} else if !f.is(flagLetter) {
					class = isOther
				}
				pos += optSpace
				for class(s.flags(pos)) {
					pos++
				}
				s.add(pos)
				continue
			}
			n, _ := s.wsRun(pos)
			switch {
			case n > 1 && s.cpt(pos+n) != outOfRange:
				pos += n - 1
				s.add(pos)
			case n > 0:
				pos += n
				s.add(pos)
			default:
				pos++
				s.add(pos)
			}
		}
	})
}

// splitLlama3 is llama.cpp's unicode_regex_split_custom_llama3, the
// hand-written matcher for the llama3 regex
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// including its quirk of testing the first code point's own flags (not the
// one after an optional space) for the punctuation branch.
func splitLlama3(cpts []rune, offsets []int) []int {
	return forSegments(cpts, offsets, func(s *segment) {
		for pos := s.ini; pos < s.end; {
			if n := s.contraction(pos, true); n > 0 {
				pos += s.add(pos + n)
				continue
			}
			c := s.cpt(pos)
			f := s.flags(pos)
			if !(c == '\r' || c == '\n' || f.is(flagNumber)) && (f.is(flagLetter) || s.flags(pos+1).is(flagLetter)) {
				pos++
				for s.flags(pos).is(flagLetter) {
					pos++
				}
				s.add(pos)
				continue
			}
			if f.is(flagNumber) {
				ini := pos
				for s.flags(pos).is(flagNumber) {
					pos++
					if pos-ini >= 3 {
						s.add(pos)
						ini = pos
					}
				}
				s.add(pos)
				continue
			}
			f2 := f
			if c == ' ' {
				f2 = s.flags(pos + 1)
			}
			if f2&(flagWhitespace|flagLetter|flagNumber) == 0 && f != 0 {
				if c == ' ' {
					pos++
				}
				for f2&(flagWhitespace|flagLetter|flagNumber) == 0 && f2 != 0 {
					pos++
					f2 = s.flags(pos)
				}
				for c2 := s.cpt(pos); c2 == '\r' || c2 == '\n'; c2 = s.cpt(pos) {
					pos++
				}
				s.add(pos)
				continue
			}
			n, lastRN := s.wsRun(pos)
			switch {
			case lastRN > 0:
				pos = lastRN
				s.add(pos)
			case n > 1 && s.cpt(pos+n) != outOfRange:
				pos += n - 1
				s.add(pos)
			case n > 0:
				pos += n
				s.add(pos)
			default:
				pos++
				s.add(pos)
			}
		}
	})
}
