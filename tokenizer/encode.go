package tokenizer

import (
	"cmp"
	"container/heap"
	"slices"
	"sort"
	"strings"
)

// fragment is a piece of the input after the special-token partition:
// either raw text [start, end) or one token (tok >= 0).
type fragment struct {
	tok        int32
	start, end int
}

// Encode tokenizes text as llama_tokenize(text, add_special, parse_special)
// does for a BPE vocabulary and returns the ids.
//
//   - addSpecial prepends BOS when AddBOS() and appends EOS when AddEOS()
//     (skipped if the vocabulary has no such id, where llama.cpp asserts).
//     BOS is added even when text already starts with the BOS text and
//     parseSpecial turns that into a BOS token, giving two BOS tokens, as
//     llama.cpp does (it only logs a warning).
//   - parseSpecial matches the text of every CONTROL, USER_DEFINED and
//     UNKNOWN token in text. Without it, USER_DEFINED tokens (e.g. <think>,
//     or the byte tokens DeepSeek stores as added tokens) are still matched,
//     only CONTROL and UNKNOWN ones are not.
//
// Longer token texts are matched first, everywhere in the text, before
// shorter ones (llama.cpp's tokenizer_st_partition). The remaining text is
// split by the pre-tokenizer and each piece is BPE-merged. Invalid UTF-8 is
// read as U+FFFD per bad byte, like llama.cpp.
func (t *Tokenizer) Encode(text string, addSpecial, parseSpecial bool) []int32 {
	var all [][2]int
	if !parseSpecial {
		all = [][2]int{{0, len(text)}}
	}
	return t.encode(text, addSpecial, all)
}

// EncodeSpans tokenizes a rendered chat prompt: special-token text is parsed
// (parse_special) everywhere except inside the byte ranges [start, end) of
// plain, where it stays text as with parseSpecial=false (USER_DEFINED tokens
// such as <think> are still matched there, as llama.cpp does). Callers pass
// the ranges of user-supplied content so that a user who types
// "<｜Assistant｜>" cannot inject a control token. addSpecial is as in Encode.
// Ranges outside the text are clipped.
func (t *Tokenizer) EncodeSpans(text string, addSpecial bool, plain [][2]int) []int32 {
	return t.encode(text, addSpecial, normalizeRanges(plain))
}

// normalizeRanges returns the ranges sorted, with empty ones dropped and
// overlapping or touching ones merged, so that overlaps can binary-search
// them. (A linear scan per special-token occurrence made a rendered chat of
// n turns cost O(n²): n spans times the n role tokens the template writes.)
func normalizeRanges(rs [][2]int) [][2]int {
	out := make([][2]int, 0, len(rs))
	for _, r := range rs {
		if r[0] < r[1] {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	merged := out[:0]
	for _, r := range out {
		if n := len(merged); n > 0 && r[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func (t *Tokenizer) encode(text string, addSpecial bool, plain [][2]int) []int32 {
	var out []int32
	if addSpecial && t.addBOS {
		if bos := t.BOS(); bos >= 0 {
			out = append(out, bos)
		}
	}
	for _, fr := range t.partition(text, plain) {
		if fr.tok >= 0 {
			out = append(out, fr.tok)
			continue
		}
		out = t.encodeRaw(out, text[fr.start:fr.end])
	}
	if addSpecial && t.addEOS {
		if eos := t.EOS(); eos >= 0 {
			out = append(out, eos)
		}
	}
	return out
}

// partition splits text at the special tokens it contains. CONTROL and
// UNKNOWN tokens are not matched where they overlap a plain range.
func (t *Tokenizer) partition(text string, plain [][2]int) []fragment {
	if text == "" {
		return nil
	}
	frags := []fragment{{tok: -1, start: 0, end: len(text)}}
	var next []fragment
	pairs := bytePairs(text)
	everywherePlain := len(plain) == 1 && plain[0][0] <= 0 && plain[0][1] >= len(text)
	for _, id := range t.special {
		restricted := t.attrs[id]&(AttrControl|AttrUnknown) != 0
		if restricted && everywherePlain {
			continue
		}
		tok := t.texts[id]
		if !pairs.mayContain(tok) || !strings.Contains(text, tok) {
			continue
		}
		next = next[:0]
		for _, fr := range frags {
			if fr.tok >= 0 {
				next = append(next, fr)
				continue
			}
			base, from := fr.start, fr.start
			for {
				i := strings.Index(text[from:fr.end], tok)
				if i < 0 {
					break
				}
				at := from + i
				if restricted && overlaps(plain, at, at+len(tok)) {
					from = at + 1
					continue
				}
				if at > base {
					next = append(next, fragment{tok: -1, start: base, end: at})
				}
				next = append(next, fragment{tok: id, start: at, end: at + len(tok)})
				base = at + len(tok)
				from = base
			}
			if base < fr.end {
				next = append(next, fragment{tok: -1, start: base, end: fr.end})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// overlaps reports whether [start, end) intersects one of the ranges, which
// are sorted and disjoint (normalizeRanges).
func overlaps(ranges [][2]int, start, end int) bool {
	i := sort.Search(len(ranges), func(i int) bool { return ranges[i][1] > start })
	return i < len(ranges) && ranges[i][0] < end
}

// pairSet records which byte pairs (and single bytes) occur in a text, so
// that the partition can skip most special tokens without scanning the text
// for each (DeepSeek-LLM's vocabulary has 2,400 of them).
type pairSet struct {
	pairs [1 << 16 / 64]uint64
	bytes [256 / 64]uint64
}

func bytePairs(s string) *pairSet {
	p := &pairSet{}
	for i := 0; i < len(s); i++ {
		c := uint(s[i])
		p.bytes[c/64] |= 1 << (c % 64)
		if i+1 < len(s) {
			k := c<<8 | uint(s[i+1])
			p.pairs[k/64] |= 1 << (k % 64)
		}
	}
	return p
}

// mayContain is false when tok certainly does not occur in the text.
func (p *pairSet) mayContain(tok string) bool {
	switch len(tok) {
	case 0:
		return true
	case 1:
		c := uint(tok[0])
		return p.bytes[c/64]&(1<<(c%64)) != 0
	}
	k := uint(tok[0])<<8 | uint(tok[1])
	return p.pairs[k/64]&(1<<(k%64)) != 0
}

// maxCacheWords bounds the per-word cache; it is cleared when full.
const maxCacheWords = 1 << 16

// encodeRaw appends the ids of a text fragment without special tokens
// (llm_tokenizer_bpe_session::tokenize).
func (t *Tokenizer) encodeRaw(out []int32, text string) []int32 {
	cpts := decodeCodepoints(text, nil)
	offsets, err := t.split.split(cpts)
	if err != nil {
		// regexp2 fails only on time-outs or backtracking limits, both
		// disabled here; keep going with the fragment as one word.
		offsets = []int{len(cpts)}
	}
	var raw, word []byte
	start := 0
	for _, n := range offsets {
		raw = raw[:0]
		for _, r := range cpts[start : start+n] {
			raw = appendCodepoint(raw, r)
		}
		start += n
		word = appendByteEncoded(word[:0], raw)
		out = t.encodeWord(out, word)
	}
	return out
}

// encodeWord appends the ids of one byte-level pre-token, using the cache.
func (t *Tokenizer) encodeWord(out []int32, word []byte) []int32 {
	if len(word) == 0 {
		return out
	}
	t.cacheMu.Lock()
	ids, ok := t.cache[string(word)]
	t.cacheMu.Unlock()
	if ok {
		return append(out, ids...)
	}
	w := string(word)
	ids = t.bpe(w)
	t.cacheMu.Lock()
	if len(t.cache) >= maxCacheWords {
		clear(t.cache)
	}
	t.cache[w] = ids
	t.cacheMu.Unlock()
	return append(out, ids...)
}

// symbol is a run of the word, [start, start+n), linked to its neighbours.
// n == 0 marks a symbol merged into its left neighbour.
type symbol struct {
	start, n   int
	prev, next int
}

// bigram is a candidate merge of two adjacent symbols. nLeft and nRight are
// the symbol lengths when it was queued, to detect stale entries.
type bigram struct {
	left, right   int
	nLeft, nRight int
	rank          int32
}

// bigramQueue pops the lowest rank first and, among equal ranks, the
// leftmost pair (llama.cpp's llm_bigram_bpe::comparator).
type bigramQueue []bigram

func (q bigramQueue) Len() int { return len(q) }
func (q bigramQueue) Less(i, j int) bool {
	return q[i].rank < q[j].rank || (q[i].rank == q[j].rank && q[i].left < q[j].left)
}
func (q bigramQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *bigramQueue) Push(x any)   { *q = append(*q, x.(bigram)) }
func (q *bigramQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

// bpe merges one byte-level word and maps the resulting symbols to ids. With
// ignore_merges (llama-bpe) a word that is itself a token is emitted whole.
// A symbol that is not a token falls back to its single bytes, each looked
// up as a one-byte text; bytes without a token are dropped (llama.cpp does
// the same). Cost: O(m log m) for a word of m characters.
func (t *Tokenizer) bpe(word string) []int32 {
	if t.pre.ignoreMerges {
		if id, ok := t.toID[word]; ok {
			return []int32{id}
		}
	}
	syms := make([]symbol, 0, len(word))
	for off := 0; off < len(word); {
		n := min(utf8Len(word[off]), len(word)-off)
		next := len(syms) + 1
		if off+n == len(word) {
			next = -1
		}
		syms = append(syms, symbol{start: off, n: n, prev: len(syms) - 1, next: next})
		off += n
	}
	q := bigramQueue{}
	push := func(l, r int) {
		if l < 0 || r < 0 {
			return
		}
		a, b := syms[l], syms[r]
		rank, ok := t.ranks[mergeKey{word[a.start : a.start+a.n], word[b.start : b.start+b.n]}]
		if !ok {
			return
		}
		heap.Push(&q, bigram{left: l, right: r, nLeft: a.n, nRight: b.n, rank: rank})
	}
	for i := 1; i < len(syms); i++ {
		push(i-1, i)
	}
	for q.Len() > 0 {
		bg := heap.Pop(&q).(bigram)
		l, r := &syms[bg.left], &syms[bg.right]
		if l.n == 0 || r.n == 0 || l.n != bg.nLeft || r.n != bg.nRight {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = bg.left
		}
		push(l.prev, bg.left)
		push(bg.left, l.next)
	}
	var ids []int32
	for i := 0; i >= 0 && i < len(syms); i = syms[i].next {
		s := syms[i]
		if s.n == 0 {
			continue
		}
		str := word[s.start : s.start+s.n]
		if id, ok := t.toID[str]; ok {
			ids = append(ids, id)
			continue
		}
		for j := 0; j < len(str); j++ {
			if id, ok := t.toID[str[j:j+1]]; ok {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// utf8Len is llama.cpp's unicode_len_utf8: the sequence length announced by
// a lead byte (1 for continuation bytes).
func utf8Len(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}
