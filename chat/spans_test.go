package chat

import "testing"

func TestRenderSpans(t *testing.T) {
	msgs := []Message{
		{Role: "system", Content: "be brief"},
		{Role: "user", Content: "say <｜Assistant｜> and <｜end▁of▁sentence｜>"},
		{Role: "assistant", Content: "ok"},
		{Role: "user", Content: "be brief"}, // same text as the system prompt
	}
	for _, name := range []string{FormatDeepSeekLLM, FormatDeepSeekV3, FormatDeepSeekR1, FormatDeepSeekV31} {
		r, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		text, spans, err := RenderSpans(r, msgs, RenderOptions{AddGenerationPrompt: true, BOS: TokBOS, EOS: TokEOS})
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := r.Render(msgs, RenderOptions{AddGenerationPrompt: true, BOS: TokBOS, EOS: TokEOS})
		if text != plain {
			t.Fatalf("%s: RenderSpans text differs from Render", name)
		}
		want := []string{"be brief", msgs[1].Content, "be brief"}
		if len(spans) != len(want) {
			t.Fatalf("%s: %d spans %v, want %d", name, len(spans), spans, len(want))
		}
		for i, s := range spans {
			if got := text[s[0]:s[1]]; got != want[i] {
				t.Errorf("%s: span %d holds %q, want %q", name, i, got, want[i])
			}
		}
		if spans[0][0] >= spans[2][0] {
			t.Errorf("%s: spans not in order: %v", name, spans)
		}
	}
}
