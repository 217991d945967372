package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// buildPieces fills the piece cache the way llama.cpp builds
// cache_token_to_piece (token_to_piece with special = true): CONTROL,
// USER_DEFINED and UNKNOWN tokens render as their stored text, NORMAL tokens
// as the bytes their byte-level runes stand for, anything else (UNUSED, BYTE,
// UNDEFINED) as nothing.
func (t *Tokenizer) buildPieces() {
	t.pieces = make([][]byte, len(t.texts))
	for id, a := range t.attrs {
		switch {
		case a&(AttrUnknown|AttrControl|AttrUserDefined) != 0:
			t.pieces[id] = []byte(t.texts[id])
		case a&AttrNormal != 0:
			t.pieces[id] = decodeByteLevel(t.texts[id])
		}
	}
}

// decodeByteLevel turns a byte-level token text back into bytes
// (llama.cpp's llama_decode_text). A code point outside the byte map is
// rendered, as llama.cpp renders it, as "[UNK_BYTE_0x<hex of its UTF-8>" +
// the whole token text + "]".
func decodeByteLevel(text string) []byte {
	var out []byte
	for _, r := range decodeCodepoints(text, nil) {
		if b, ok := runeByte(r); ok {
			out = append(out, b)
			continue
		}
		out = append(out, "[UNK_BYTE_0x"...)
		for _, c := range appendCodepoint(nil, r) {
			out = fmt.Appendf(out, "%02x", c)
		}
		out = append(out, text...)
		out = append(out, ']')
	}
	return out
}

// Piece returns the bytes of one token, as llama_token_to_piece(id, special)
// with lstrip 0: with special false, CONTROL and UNKNOWN tokens render as
// nothing; USER_DEFINED tokens always render as their text. An id out of
// range renders as nothing (llama.cpp would throw). The result may be an
// incomplete UTF-8 sequence; it must not be modified.
func (t *Tokenizer) Piece(id int32, special bool) []byte {
	if id < 0 || int(id) >= len(t.pieces) {
		return nil
	}
	if !special && t.attrs[id]&(AttrUnknown|AttrControl) != 0 {
		return nil
	}
	return t.pieces[id]
}

// Decode detokenizes ids as llama_detokenize(ids, remove_special=false,
// unparse_special=special) does: the pieces concatenated, then, for
// pre-tokenizers where llama.cpp enables clean_spaces (default, gpt-2,
// llama-bpe; not the DeepSeek or Qwen ones), its clean-up of spaces before
// punctuation and contractions. The bytes are returned as is, invalid UTF-8
// included.
func (t *Tokenizer) Decode(ids []int32, special bool) []byte {
	var out []byte
	for _, id := range ids {
		out = append(out, t.Piece(id, special)...)
	}
	if t.pre.cleanSpaces {
		out = cleanSpaces(out)
	}
	return out
}

// cleanSpaces is the clean_spaces block of llama_vocab::impl::detokenize,
// three in-place passes: drop a space before ? ! . , ; turn " ' " into "'";
// drop the space before 's 'm 're 've. It is reproduced in place on the same
// buffer, including its habit of overwriting the skipped space with a NUL
// (which the following position's test then sees).
func cleanSpaces(text []byte) []byte {
	total := len(text)
	// pass 1
	n := total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	// pass 2
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0
		}
		text[total] = x
		total++
	}
	// pass 3
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				total--
			case x1 == 't' || x1 == 'd':
			case i+2 < n:
				x2 := text[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					total--
				}
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}

// StreamDecoder turns a stream of generated ids into text without ever
// splitting a UTF-8 character: bytes that start a multi-byte sequence whose
// remaining bytes have not arrived yet are held back until they do.
// Pieces are concatenated without Decode's clean_spaces pass (llama.cpp's
// server streams token_to_piece output the same way), so for the DeepSeek
// and Qwen pre-tokenizers the concatenated output equals Decode exactly.
// Bytes that can never form a valid character are passed through raw, not
// replaced, so the output is byte-for-byte the pieces' bytes. Not safe for
// concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	special bool
	pending []byte
}

// NewStreamDecoder returns a streaming detokenizer; special has Piece's
// meaning (render CONTROL tokens as their text).
func (t *Tokenizer) NewStreamDecoder(special bool) *StreamDecoder {
	return &StreamDecoder{t: t, special: special}
}

// Add appends the piece of id and returns the text that is now complete
// (possibly "").
func (d *StreamDecoder) Add(id int32) string {
	d.pending = append(d.pending, d.t.Piece(id, d.special)...)
	cut := len(d.pending) - incompleteTail(d.pending)
	out := string(d.pending[:cut])
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return out
}

// Flush returns whatever is held back (an incomplete UTF-8 sequence, as raw
// bytes) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}

// incompleteTail returns how many trailing bytes of b form a proper prefix
// of a valid UTF-8 encoding (1 to 3 bytes), i.e. could still become a
// character; 0 if none.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if c < 0xC0 { // continuation byte: look further back
			continue
		}
		need := utf8Len(c)
		if need <= k || c > 0xF4 || c == 0xC0 || c == 0xC1 {
			return 0
		}
		if utf8.FullRune(b[len(b)-k:]) {
			// The bytes so far are already invalid (FullRune reports
			// true for a sequence that cannot be completed).
			return 0
		}
		return k
	}
	return 0
}
