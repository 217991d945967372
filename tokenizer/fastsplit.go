package tokenizer

// Hand-written matchers for the deepseek-v3 pre-tokenizer regexes, about an
// order of magnitude faster than running them through regexp2. Each matcher
// returns, for a start position, the end of the match the backtracking
// regex would find there (leftmost-first alternation, greedy quantifiers),
// or -1; splitWith turns that into llama.cpp's pieces. They work on the same
// rewritten text as the regexes (collapsed or wide, see collapseText and
// wideText), so the class tests below are llama.cpp's collapsed classes.
// TestFastSplittersMatchRegex checks them against regexp2.

// splitWith splits every segment of text at the matches of match, scanning
// left to right like std::regex_iterator: matches and the text between them
// become pieces.
func splitWith(text []rune, offsets []int, match func(seg []rune, i int) int) []int {
	out := make([]int, 0, len(offsets))
	start := 0
	for _, off := range offsets {
		seg := text[start : start+off]
		prev := 0
		for i := 0; i < len(seg); {
			e := match(seg, i)
			if e <= i {
				i++
				continue
			}
			if i > prev {
				out = append(out, i-prev)
			}
			out = append(out, e-i)
			prev, i = e, e
		}
		if prev < len(seg) {
			out = append(out, len(seg)-prev)
		}
		start += off
	}
	return out
}

// Collapsed-text classes (see categoryClasses).
func cIsN(r rune) bool { return (r >= '0' && r <= '9') || r == 0xD1 }
func cIsL(r rune) bool { return (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') || r == 0xD2 }
func cIsM(r rune) bool { return r == 0xD4 }
func cIsP(r rune) bool {
	switch {
	case r == 0xD3:
		return true
	case r >= 0x80:
		return false
	}
	return asciiPunct[r]
}
func cIsS(r rune) bool {
	switch r {
	case 0xD5, '$', '+', '<', '=', '>', '^', '`', '|':
		return true
	}
	return false
}
func cIsSpace(r rune) bool {
	return r == ' ' || (r >= '\t' && r <= '\r')
}
func isASCIILetter(r rune) bool { return (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z') }

// asciiPunct is llama.cpp's ASCII \p{P}: !"#%&'()*,-./:;?@[\]_{}
var asciiPunct = func() (t [128]bool) {
	for _, c := range `!"#%&'()*,-./:;?@[\]_{}` {
		t[c] = true
	}
	return t
}()

// matchDigits3 is \p{N}{1,3} on collapsed text.
func matchDigits3(seg []rune, i int) int {
	j := i
	for j < len(seg) && j-i < 3 && cIsN(seg[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// matchV3CJK is [一-龥぀-ゟ゠-ヿ]+ (U+4E00..U+9FA5, U+3040..U+30FF) on the
// wide text.
func matchV3CJK(seg []rune, i int) int {
	j := i
	for j < len(seg) && ((seg[j] >= 0x4E00 && seg[j] <= 0x9FA5) || (seg[j] >= 0x3040 && seg[j] <= 0x30FF)) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// runOf returns the end of the run of code points satisfying in, from j.
func runOf(seg []rune, j int, in func(rune) bool) int {
	for j < len(seg) && in(seg[j]) {
		j++
	}
	return j
}

// matchV3Words is, on collapsed text, the deepseek-v3 word regex
//
//	A [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
//	B [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
//	C  ?[\p{P}\p{S}]+[\r\n]*
//	D \s*[\r\n]+
//	E \s+(?!\S)
//	F \s+
func matchV3Words(seg []rune, i int) int {
	n := len(seg)
	c := seg[i]
	var next rune = -1
	if i+1 < n {
		next = seg[i+1]
	}
	letterOrMark := func(r rune) bool { return cIsL(r) || cIsM(r) }
	// A: one ASCII punctuation/symbol, then ASCII letters.
	if c > ' ' && c < 0x7F && !isASCIILetter(c) && !(c >= '0' && c <= '9') && isASCIILetter(next) {
		return runOf(seg, i+1, isASCIILetter)
	}
	// B: an optional prefix that is not \r, \n, L, P or S, then L/M.
	if c != '\r' && c != '\n' && !cIsL(c) && !cIsP(c) && !cIsS(c) && next >= 0 && letterOrMark(next) {
		return runOf(seg, i+1, letterOrMark)
	}
	if letterOrMark(c) {
		return runOf(seg, i, letterOrMark)
	}
	// C: optional space, P/S run, then \r\n run.
	punctOrSym := func(r rune) bool { return cIsP(r) || cIsS(r) }
	if j := i; punctOrSym(c) || (c == ' ' && next >= 0 && punctOrSym(next)) {
		if c == ' ' {
			j++
		}
		j = runOf(seg, j, punctOrSym)
		return runOf(seg, j, func(r rune) bool { return r == '\r' || r == '\n' })
	}
	if !cIsSpace(c) {
		return -1
	}
	// D: whitespace up to and including its last \r or \n.
	k := runOf(seg, i, cIsSpace)
	for j := k - 1; j >= i; j-- {
		if seg[j] == '\r' || seg[j] == '\n' {
			return j + 1
		}
	}
	// E, F.
	if k == n || k-i == 1 {
		return k
	}
	return k - 1
}
