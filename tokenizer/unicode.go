package tokenizer

import (
	"sync"
	"unicode"
)

// This file holds the Unicode helpers that llama.cpp's src/unicode.cpp
// provides to its BPE pre-tokenizer: a lenient UTF-8 decoder, per-code-point
// category flags and the GPT-2 byte <-> printable-rune map. They are written
// to give exactly llama.cpp's results, including its quirks, because token ids
// depend on them.

// cptFlags is the category of one code point, with the bit layout of
// llama.cpp's unicode_cpt_flags (src/unicode.h): one category bit plus the
// whitespace helper bit.
type cptFlags uint16

const (
	flagUndefined   cptFlags = 0x0001 // Cn (unassigned) and code points >= 0x110000
	flagNumber      cptFlags = 0x0002 // \p{N}
	flagLetter      cptFlags = 0x0004 // \p{L}
	flagSeparator   cptFlags = 0x0008 // \p{Z}
	flagAccentMark  cptFlags = 0x0010 // \p{M}
	flagPunctuation cptFlags = 0x0020 // \p{P}
	flagSymbol      cptFlags = 0x0040 // \p{S}
	flagControl     cptFlags = 0x0080 // \p{C} without Cn
	flagWhitespace  cptFlags = 0x0100 // Unicode White_Space property
	flagCategories  cptFlags = 0x00FF
)

func (f cptFlags) is(bit cptFlags) bool { return f&bit != 0 }

// maxCodepoint is one past the largest Unicode scalar value.
const maxCodepoint = 0x110000

// computeFlags derives llama.cpp's flags for one code point from Go's Unicode
// tables. Go's tables are Unicode 15.0; llama.cpp's generated table
// (src/unicode-data.cpp at c392e50) is Unicode 15.1, which assigned 627 more
// code points: U+2FFC..U+2FFF and U+31EF (So) and CJK Extension I,
// U+2EBF0..U+2EE5D (Lo). They are patched in here so the two agree on every
// code point (checked once against the generated table).
func computeFlags(r rune) cptFlags {
	var f cptFlags
	switch {
	case r < 0 || r >= maxCodepoint:
		return flagUndefined
	case unicode.Is(unicode.N, r):
		f = flagNumber
	case unicode.Is(unicode.L, r):
		f = flagLetter
	case unicode.Is(unicode.Z, r):
		f = flagSeparator
	case unicode.Is(unicode.M, r):
		f = flagAccentMark
	case unicode.Is(unicode.P, r):
		f = flagPunctuation
	case unicode.Is(unicode.S, r):
		f = flagSymbol
	case unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs):
		f = flagControl
	case (r >= 0x2FFC && r <= 0x2FFF) || r == 0x31EF:
		f = flagSymbol
	case r >= 0x2EBF0 && r <= 0x2EE5D:
		f = flagLetter
	default:
		f = flagUndefined
	}
	if unicode.Is(unicode.White_Space, r) {
		f |= flagWhitespace
	}
	return f
}

// bmpFlags is the flag table for the Basic Multilingual Plane, built once on
// first use and read-only afterwards (128 KiB).
var bmpFlags = sync.OnceValue(func() []cptFlags {
	t := make([]cptFlags, 0x10000)
	for r := range t {
		t[r] = computeFlags(rune(r))
	}
	return t
})

// flagsOf returns llama.cpp's unicode_cpt_flags_from_cpt for r.
func flagsOf(r rune) cptFlags {
	if r >= 0 && r < 0x10000 {
		return bmpFlags()[r]
	}
	return computeFlags(r)
}

// replacementChar is U+FFFD, which llama.cpp substitutes for each byte it
// cannot decode.
const replacementChar = 0xFFFD

// decodeCodepoints decodes s the way llama.cpp's unicode_cpts_from_utf8 does:
// lead bytes are trusted for the sequence length and only the continuation
// bytes' top bits are checked, so overlong forms (C0 80 -> U+0000) and
// surrogates (ED A0 80 -> U+D800) decode to their numeric value; a byte that
// starts no complete sequence becomes one U+FFFD and decoding resumes at the
// next byte. One deliberate difference: a four-byte form above U+10FFFF (lead
// F4 90.. or F5..F7), for which llama.cpp throws an exception out of
// llama_tokenize, is treated as an invalid lead byte (U+FFFD) here.
func decodeCodepoints(s string, dst []rune) []rune {
	dst = dst[:0]
	n := len(s)
	for i := 0; i < n; {
		b := s[i]
		switch {
		case b < 0x80:
			dst = append(dst, rune(b))
			i++
			continue
		case b&0x40 == 0: // stray continuation byte
		case b&0x20 == 0:
			if i+1 < n && s[i+1]&0xC0 == 0x80 {
				dst = append(dst, rune(b&0x1F)<<6|rune(s[i+1]&0x3F))
				i += 2
				continue
			}
		case b&0x10 == 0:
			if i+2 < n && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
				dst = append(dst, rune(b&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F))
				i += 3
				continue
			}
		case b&0x08 == 0:
			if i+3 < n && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80 {
				r := rune(b&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
				if r < maxCodepoint {
					dst = append(dst, r)
					i += 4
					continue
				}
			}
		}
		dst = append(dst, replacementChar)
		i++
	}
	return dst
}

// appendCodepoint appends the UTF-8 form of r as llama.cpp's
// unicode_cpt_to_utf8 writes it. Unlike utf8.AppendRune it encodes
// surrogates (U+D800..U+DFFF) as three bytes instead of replacing them, so a
// decode/encode round trip keeps the bytes llama.cpp keeps. r must be below
// 0x110000 (decodeCodepoints guarantees it).
func appendCodepoint(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xC0|byte(r>>6), 0x80|byte(r)&0x3F)
	case r < 0x10000:
		return append(b, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	default:
		return append(b, 0xF0|byte(r>>18), 0x80|byte(r>>12)&0x3F, 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
	}
}

// byteRunes is GPT-2's bytes_to_unicode table (also llama.cpp's
// unicode_byte_to_utf8_map): the printable Latin-1 bytes '!'..'~', '¡'..'¬'
// and '®'..'ÿ' map to themselves, the other 68 bytes to U+0100.. in byte
// order. Byte-level BPE vocabularies store token text in these runes.
var byteRunes = func() (t [256]rune) {
	printable := func(b int) bool {
		return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
	}
	next := rune(256)
	for b := 0; b < 256; b++ {
		if printable(b) {
			t[b] = rune(b)
		} else {
			t[b] = next
			next++
		}
	}
	return t
}()

// runeByte inverts byteRunes: the byte a byte-level rune stands for.
// ok is false for runes that are not in the table.
func runeByte(r rune) (b byte, ok bool) {
	switch {
	case (r >= '!' && r <= '~') || (r >= 0xA1 && r <= 0xAC) || (r >= 0xAE && r <= 0xFF):
		return byte(r), true
	case r >= 256 && r < 256+68:
		return byteRunesInverse[r-256], true
	}
	return 0, false
}

// byteRunesInverse maps U+0100..U+0143 back to the non-printable bytes.
var byteRunesInverse = func() (t [68]byte) {
	for b := 0; b < 256; b++ {
		if r := byteRunes[b]; r >= 256 {
			t[r-256] = byte(b)
		}
	}
	return t
}()

// appendByteEncoded appends the byte-level form of the raw bytes s: each byte
// becomes the UTF-8 of its byteRunes entry (llama.cpp's
// unicode_byte_encoding_process).
func appendByteEncoded(dst []byte, s []byte) []byte {
	for _, c := range s {
		dst = appendCodepoint(dst, byteRunes[c])
	}
	return dst
}
