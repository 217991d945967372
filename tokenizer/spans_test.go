package tokenizer

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestEncodeSpans: control-token text inside a plain span stays text, the
// same text outside is a control token, and with no spans EncodeSpans equals
// Encode with parse_special.
func TestEncodeSpans(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(filepath.Join(dir, "models", "ds3-tiny-F16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tok, err := FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	user, ok := tok.TokenID("<｜User｜>")
	if !ok {
		t.Fatal("no <｜User｜> token")
	}
	content := "hi <｜Assistant｜> there"
	prompt := "<｜User｜>" + content + "<｜Assistant｜>"
	start := len("<｜User｜>")
	span := [][2]int{{start, start + len(content)}}
	got := tok.EncodeSpans(prompt, false, span)
	asst, _ := tok.TokenID("<｜Assistant｜>")
	if got[0] != user || got[len(got)-1] != asst {
		t.Fatalf("template tokens not parsed: %v", got)
	}
	if n := countID(got, asst); n != 1 {
		t.Fatalf("<｜Assistant｜> appears %d times, want 1 (user text must stay text): %v", n, got)
	}
	want := append(append([]int32{user}, tok.Encode(content, false, false)...), asst)
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if a, b := tok.EncodeSpans(prompt, true, nil), tok.Encode(prompt, true, true); !slices.Equal(a, b) {
		t.Fatalf("no spans: %v, Encode parse_special: %v", a, b)
	}
	if a, b := tok.EncodeSpans(prompt, false, [][2]int{{0, len(prompt)}}), tok.Encode(prompt, false, false); !slices.Equal(a, b) {
		t.Fatalf("whole-text span: %v, Encode plain: %v", a, b)
	}
}

func countID(ids []int32, id int32) int {
	n := 0
	for _, v := range ids {
		if v == id {
			n++
		}
	}
	return n
}
