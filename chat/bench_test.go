package chat

import (
	"strings"
	"testing"
)

// BenchmarkParser streams a 20 kB R1-style answer (reasoning, content, two
// V3 tool calls) in 4-byte chunks, about one token each.
func BenchmarkParser(b *testing.B) {
	text := strings.Repeat("Let me think about this step by step. ", 300) + TokEndThink + "\n\n" +
		strings.Repeat("The answer is below. ", 300) + TokToolCallsBegin + v3Weather + "\n" + v3Time + TokToolCallsEnd
	chunks := chunked(text, 4)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		p, _ := NewParser(FormatDeepSeekR1, ParserOptions{StartInReasoning: true, ToolsEnabled: true})
		for _, c := range chunks {
			_, _ = p.Add(c)
		}
		_, _ = p.Finish()
	}
}

// BenchmarkRender renders the "tools" shape through the V3.1 template and
// the V3.1 built-in renderer.
func BenchmarkRender(b *testing.B) {
	srcs := jinjaSources(b)
	tpl, err := NewJinja(srcs["deepseek-v3.1"])
	if err != nil {
		b.Fatal(err)
	}
	builtin, _ := Builtin(FormatDeepSeekV31)
	var s shape
	for _, x := range shapes() {
		if x.name == "tools" {
			s = x
		}
	}
	for name, r := range map[string]Renderer{"jinja": tpl, "builtin": builtin} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Render(s.msgs, s.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
