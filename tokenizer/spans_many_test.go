package tokenizer

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

func ds3Tokenizer(tb testing.TB) *Tokenizer {
	tb.Helper()
	dir, err := fixtures.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	f, err := gguf.Open(filepath.Join(dir, "models", "ds3-tiny-F16.gguf"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// turns renders n user turns "<｜User｜>CONTENT<｜Assistant｜>a" where each
// content holds control-token text, and returns the content spans.
func turns(n int) (string, [][2]int) {
	var b strings.Builder
	var spans [][2]int
	for range n {
		b.WriteString("<｜User｜>")
		start := b.Len()
		b.WriteString("hi <｜Assistant｜>")
		spans = append(spans, [2]int{start, b.Len()})
		b.WriteString("<｜Assistant｜>a")
	}
	return b.String(), spans
}

// TestEncodeSpansOrderAndOverlap: the spans RenderSpans returns may be out of
// order (contents found by search come last), empty, or overlapping; the
// result must not depend on that. The overlap test now binary-searches
// normalized spans (it scanned every span per special-token occurrence, so a
// chat of n turns cost O(n²); BenchmarkEncodeSpansManyTurns).
func TestEncodeSpansOrderAndOverlap(t *testing.T) {
	tok := ds3Tokenizer(t)
	asst, _ := tok.TokenID("<｜Assistant｜>")
	text, spans := turns(50)
	want := tok.EncodeSpans(text, false, spans)
	if n := countID(want, asst); n != 50 {
		t.Fatalf("<｜Assistant｜> appears %d times, want 50 (one per turn, the user's stay text)", n)
	}
	rev := slices.Clone(spans)
	slices.Reverse(rev)
	messy := append(rev, [2]int{10, 10}, spans[3], [2]int{spans[7][0] + 2, spans[7][1] - 2})
	if got := tok.EncodeSpans(text, false, messy); !slices.Equal(got, want) {
		t.Fatalf("reversed/duplicated/empty spans give %d tokens, want the %d of sorted spans", len(got), len(want))
	}
	// Two touching spans cover a control token exactly as one span does.
	mid := spans[0][0] + len("hi ")
	split := [][2]int{{spans[0][0], mid + 3}, {mid + 3, spans[0][1]}}
	if a, b := tok.EncodeSpans(text, false, split), tok.EncodeSpans(text, false, spans[:1]); !slices.Equal(a, b) {
		t.Fatalf("touching spans differ from their union")
	}
}

func BenchmarkEncodeSpansManyTurns(b *testing.B) {
	tok := ds3Tokenizer(b)
	text, spans := turns(20000)
	for b.Loop() {
		tok.EncodeSpans(text, false, spans)
	}
}

// TestMaxTokenBytesBound: MaxTokenBytes bounds the token count from below,
// ceil(len(text) / MaxTokenBytes) <= len(Encode(text)), for every fixture
// vocabulary and texts that make long tokens (runs of spaces, special-token
// text parsed and not), invalid UTF-8 and random bytes. The server refuses
// prompts by this bound before tokenizing them.
func TestMaxTokenBytesBound(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "models", "*.gguf"))
	if len(paths) == 0 {
		t.Fatal("no fixture models")
	}
	rnd := make([]byte, 5000)
	for i := range rnd {
		rnd[i] = byte(i*7919 + i/13)
	}
	texts := []string{
		strings.Repeat(" ", 5000), strings.Repeat("\n", 3000), strings.Repeat("-", 4000),
		strings.Repeat("<｜User｜><｜Assistant｜>", 100), "\xff\xfe\xc3" + strings.Repeat("é", 500),
		string(rnd), strings.Repeat("    return x\n", 300),
	}
	for _, p := range paths {
		f, err := gguf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := FromGGUF(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		mt := tok.MaxTokenBytes()
		if mt <= 0 {
			t.Fatalf("%s: MaxTokenBytes %d", filepath.Base(p), mt)
		}
		for i, text := range texts {
			for _, special := range []bool{false, true} {
				n := len(tok.Encode(text, false, special))
				if low := (len(text) + mt - 1) / mt; n < low {
					t.Errorf("%s text %d special %v: %d tokens, below the bound %d", filepath.Base(p), i, special, n, low)
				}
			}
		}
	}
}
