package tokenizer

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// lenientUTF8 is the text llama.cpp actually tokenizes for s: s read with
// its lenient decoder (one U+FFFD per undecodable byte) and written back.
// An independent reading of the rule in unicode_cpts_from_utf8, kept
// separate from decodeCodepoints on purpose.
func lenientUTF8(s string) []byte {
	var out []byte
	for i := 0; i < len(s); {
		b := s[i]
		n := 0
		switch {
		case b < 0x80:
			n = 1
		case b >= 0xC0 && b < 0xE0:
			n = 2
		case b >= 0xE0 && b < 0xF0:
			n = 3
		case b >= 0xF0 && b < 0xF8:
			n = 4
		}
		ok := n > 0 && i+n <= len(s)
		for k := 1; ok && k < n; k++ {
			ok = s[i+k]>>6 == 2
		}
		if ok && n == 4 {
			v := uint32(b&7)<<18 | uint32(s[i+1]&63)<<12 | uint32(s[i+2]&63)<<6 | uint32(s[i+3]&63)
			ok = v <= 0x10FFFF
		}
		if !ok {
			out = append(out, "\uFFFD"...)
			i++
			continue
		}
		// Re-encoding a decoded sequence gives back the same bytes except
		// for overlong forms, which shrink to the shortest form.
		var v uint32
		switch n {
		case 1:
			v = uint32(b)
		case 2:
			v = uint32(b&31)<<6 | uint32(s[i+1]&63)
		case 3:
			v = uint32(b&15)<<12 | uint32(s[i+1]&63)<<6 | uint32(s[i+2]&63)
		case 4:
			v = uint32(b&7)<<18 | uint32(s[i+1]&63)<<12 | uint32(s[i+2]&63)<<6 | uint32(s[i+3]&63)
		}
		switch {
		case v < 0x80:
			out = append(out, byte(v))
		case v < 0x800:
			out = append(out, 0xC0|byte(v>>6), 0x80|byte(v&63))
		case v < 0x10000:
			out = append(out, 0xE0|byte(v>>12), 0x80|byte(v>>6&63), 0x80|byte(v&63))
		default:
			out = append(out, 0xF0|byte(v>>18), 0x80|byte(v>>12&63), 0x80|byte(v>>6&63), 0x80|byte(v&63))
		}
		i += n
	}
	return out
}

// roundTripTokenizers are vocabularies with all 256 byte tokens and
// clean_spaces off, for which decode(encode(s)) must give back s exactly
// (after llama.cpp's lenient UTF-8 reading).
var roundTripTokenizers = []string{
	"models/ds3-tiny-F16.gguf",               // deepseek-v3
	"models/ds2-lite-tiny-Q4_0.gguf",         // deepseek-llm
	"models/qwen2-tiny-F16.gguf",             // deepseek-r1-qwen
	"tokenizer/ggml-vocab-deepseek-llm.gguf", // real DeepSeek-LLM vocab
}

// seedTexts are the fixture strings plus a few hostile ones.
func seedTexts(t testing.TB) []string {
	texts, _ := readInpOut(t, fixture(t, "tokenizer/ggml-vocab-deepseek-llm.gguf.inp"), fixture(t, "tokenizer/ggml-vocab-deepseek-llm.gguf.out"))
	for _, r := range readTokenizeJSON(t, "golden/ds3-tiny/tokenize.json") {
		texts = append(texts, rowText(t, r))
	}
	return append(texts,
		"\xff\xfe invalid \xc3 bytes \xed\xa0\x80 surrogate \xc0\x80 overlong \xf4\x90\x80\x80 too big \xf0\x9f\x98",
		"<think><think></think><｜User｜><｜Assistant｜>ü<|EOT|>",
		strings.Repeat(" ", 300)+strings.Repeat("9", 50)+strings.Repeat("\n", 20),
	)
}

// checkRoundTrip verifies, for one input, the invariants every tokenizer
// here must satisfy:
//   - Decode(Encode(s, false, false), false) is s as llama.cpp reads it
//     (USER_DEFINED tokens are matched and render as their text, CONTROL
//     texts are tokenized as plain text);
//   - the same holds with special parsing on and special rendering on;
//   - all ids are in range, and Encode with addSpecial adds exactly BOS;
//   - streaming the ids gives Decode's bytes, and every chunk of a valid
//     UTF-8 result is valid UTF-8 on its own.
func checkRoundTrip(t *testing.T, tk *Tokenizer, s string) {
	want := lenientUTF8(s)
	plain := tk.Encode(s, false, false)
	if got := tk.Decode(plain, false); !bytes.Equal(got, want) {
		t.Fatalf("%q: plain round trip gives %q", s, got)
	}
	spec := tk.Encode(s, false, true)
	if got := tk.Decode(spec, true); !bytes.Equal(got, want) {
		t.Fatalf("%q: special round trip gives %q", s, got)
	}
	for _, id := range append(plain, spec...) {
		if id < 0 || int(id) >= tk.VocabSize() {
			t.Fatalf("%q: id %d out of range", s, id)
		}
	}
	if withBOS := tk.Encode(s, true, true); tk.AddBOS() && (len(withBOS) == 0 || withBOS[0] != tk.BOS() || !slices.Equal(withBOS[1:], spec)) {
		t.Fatalf("%q: addSpecial gives %v, want BOS + %v", s, withBOS, spec)
	}
	checkStream(t, tk, spec, true)
	checkStream(t, tk, plain, false)
}

func checkStream(t *testing.T, tk *Tokenizer, ids []int32, special bool) {
	full := tk.Decode(ids, special)
	valid := utf8.Valid(full)
	d := tk.NewStreamDecoder(special)
	var got []byte
	for _, id := range ids {
		chunk := d.Add(id)
		if valid && !utf8.ValidString(chunk) {
			t.Fatalf("ids %v: stream chunk %q is not valid UTF-8", ids, chunk)
		}
		got = append(got, chunk...)
	}
	got = append(got, d.Flush()...)
	if !bytes.Equal(got, full) {
		t.Fatalf("ids %v: stream %q, Decode %q", ids, got, full)
	}
}

func TestRoundTrip(t *testing.T) {
	texts := seedTexts(t)
	texts = append(texts, randomTexts(11, 2000, 12)...)
	for _, m := range roundTripTokenizers {
		t.Run(m, func(t *testing.T) {
			tk := loadGGUF(t, m)
			for _, s := range texts {
				checkRoundTrip(t, tk, s)
			}
		})
	}
}

// FuzzEncodeDecode feeds arbitrary bytes through every round-trip
// tokenizer (no panics, invariants of checkRoundTrip).
func FuzzEncodeDecode(f *testing.F) {
	for _, s := range seedTexts(f) {
		f.Add(s)
	}
	tks := make([]*Tokenizer, len(roundTripTokenizers))
	for i, m := range roundTripTokenizers {
		tks[i] = loadGGUF(f, m)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tk := range tks {
			checkRoundTrip(t, tk, s)
		}
	})
}

// FuzzStreamDecoder feeds arbitrary id sequences (4 bytes per id, any
// value, out-of-range ones included) to the stream decoder.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2})
	f.Add(binary.LittleEndian.AppendUint32(nil, 0xFFFFFFFF))
	tk := loadGGUF(f, "models/ds3-tiny-F16.gguf")
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ids []int32
		for len(raw) >= 4 {
			ids = append(ids, int32(binary.LittleEndian.Uint32(raw))%2048)
			raw = raw[4:]
		}
		checkStream(t, tk, ids, true)
		checkStream(t, tk, ids, false)
	})
}

// TestStreamHoldsPartialUTF8 splits a CJK character's bytes over three
// byte tokens and checks that nothing is emitted until it is complete.
func TestStreamHoldsPartialUTF8(t *testing.T) {
	tk := loadGGUF(t, "models/ds3-tiny-F16.gguf")
	var ids []int32
	for _, b := range []byte("中") {
		id, ok := tk.TokenID(string(byteRunes[b]))
		if !ok {
			t.Fatalf("no byte token for %#x", b)
		}
		ids = append(ids, id)
	}
	d := tk.NewStreamDecoder(false)
	if got := d.Add(ids[0]) + d.Add(ids[1]); got != "" {
		t.Fatalf("emitted %q before the character was complete", got)
	}
	if got := d.Add(ids[2]); got != "中" {
		t.Fatalf("got %q, want 中", got)
	}
	d.Add(ids[0])
	if got := d.Flush(); got != "\xe4" {
		t.Fatalf("Flush gave %q, want the raw lead byte", got)
	}
}
