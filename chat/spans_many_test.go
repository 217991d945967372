package chat

import (
	"fmt"
	"strings"
	"testing"
)

// manyTurns is a conversation of n alternating user/assistant turns whose
// user contents are distinct and contain special-token text.
func manyTurns(n int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		if i%2 == 0 {
			msgs[i] = Message{Role: "user", Content: fmt.Sprintf("q%d <｜Assistant｜>", i)}
		} else {
			msgs[i] = Message{Role: "assistant", Content: "a"}
		}
	}
	return msgs
}

// TestRenderSpansManyTurns: every user content of a 3,000-turn conversation
// gets a span holding exactly its text, in order. RenderSpans used to locate
// each marker with strings.Count/Index over the whole rendering and
// insertion-sort them, quadratic in the number of turns (a 15 MB request
// kept a server core busy for minutes); BenchmarkRenderSpansManyTurns
// measures the now linear scan.
func TestRenderSpansManyTurns(t *testing.T) {
	msgs := manyTurns(3000)
	r, err := Builtin(FormatDeepSeekV3)
	if err != nil {
		t.Fatal(err)
	}
	text, spans, err := RenderSpans(r, msgs, RenderOptions{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(spans) != 1500 {
		t.Fatalf("%d spans, want 1500", len(spans))
	}
	for k, s := range spans {
		if got, want := text[s[0]:s[1]], msgs[2*k].Content; got != want {
			t.Fatalf("span %d holds %q, want %q", k, got, want)
		}
		if k > 0 && s[0] < spans[k-1][1] {
			t.Fatalf("span %d %v overlaps or precedes span %d %v", k, s, k-1, spans[k-1])
		}
	}
}

// TestRenderSpansTypedMarkers: contents that contain marker-like text (our
// own marker for another turn, a zero-padded index, an unclosed marker) are
// still protected and the other turns' spans stay right.
func TestRenderSpansTypedMarkers(t *testing.T) {
	msgs := []Message{
		{Role: "user", Content: "see " + marker(2)},
		{Role: "assistant", Content: "ok"},
		{Role: "user", Content: markOpen + "02" + markClose + " and " + markOpen + "7"},
		{Role: "assistant", Content: "ok"},
		{Role: "user", Content: "<｜User｜>plain"},
	}
	r, err := Builtin(FormatDeepSeekV3)
	if err != nil {
		t.Fatal(err)
	}
	text, spans, err := RenderSpans(r, msgs, RenderOptions{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{msgs[0].Content, msgs[2].Content, msgs[4].Content}
	var got []string
	for _, s := range spans {
		got = append(got, text[s[0]:s[1]])
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("spans hold %q, want %q", got, want)
	}
}

func BenchmarkRenderSpansManyTurns(b *testing.B) {
	msgs := manyTurns(20000)
	r, err := Builtin(FormatDeepSeekV3)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := RenderSpans(r, msgs, RenderOptions{AddGenerationPrompt: true}); err != nil {
			b.Fatal(err)
		}
	}
}
