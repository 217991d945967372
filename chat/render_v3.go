package chat

import "strings"

// v3Renderer renders the DeepSeek-V2.5/V3 chat format and, configured by
// newR1Renderer, DeepSeek-R1's. It follows the official V3 template
// (DeepSeek-V3 tokenizer_config.json, the fixture dsref tokenizer):
//
//	{BOS}{system}<｜User｜>{u}<｜Assistant｜>{a}<｜end▁of▁sentence｜>
//
// Tool calls (V3 syntax) and results:
//
//	<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>{name}\n```json\n{args}\n```<｜tool▁call▁end｜>
//	\n<｜tool▁call▁begin｜>...<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>
//	<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{out}<｜tool▁output▁end｜>\n<｜tool▁output▁begin｜>...<｜tool▁outputs▁end｜>
//
// after which the assistant continues without a new <｜Assistant｜> (and a
// conversation ending in tool results gets no generation prompt).
//
// Where the official template is defective this renderer writes the
// consistent form instead: a single tool call still gets
// <｜tool▁calls▁end｜><｜end▁of▁sentence｜> (the template writes them only
// after the second call), every tool-call turn and every group of tool
// results opens its own block (the template's is_first/is_output_first flags
// are never reset), a user turn after tool results closes them with
// <｜tool▁outputs▁end｜>, and a turn with both text and tool calls keeps the
// calls (the template drops them).
type v3Renderer struct {
	lastSystemOnly bool   // R1: only the last system message (V3: all, joined by a blank line)
	stripThinking  bool   // R1: history assistant text keeps only what follows the last </think>
	genSuffix      string // R1: "<think>\n" after the generation prompt's <｜Assistant｜>
	format         string // family name, for the tool prompt
}

// newV3Renderer returns the DeepSeek-V2.5/V3 renderer.
func newV3Renderer() *v3Renderer { return &v3Renderer{format: FormatDeepSeekV3} }

// Render implements Renderer.
func (r *v3Renderer) Render(msgs []Message, opts RenderOptions) (string, error) {
	if err := validate(msgs); err != nil {
		return "", err
	}
	msgs, err := withToolPrompt(msgs, r.format, opts.Tools)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(opts.BOS)
	b.WriteString(r.systemPrompt(msgs))
	inOutputs := false // inside a <｜tool▁outputs▁begin｜> block
	for _, m := range msgs {
		switch m.Role {
		case "user":
			if inOutputs {
				b.WriteString(TokOutputsEnd)
				inOutputs = false
			}
			b.WriteString(TokUser + m.Content)
		case "assistant":
			if inOutputs {
				b.WriteString(TokOutputsEnd) // the answer continues the tool turn
				inOutputs = false
			} else {
				b.WriteString(TokAssistant)
			}
			b.WriteString(r.history(m.Content))
			if len(m.ToolCalls) > 0 {
				writeV3Calls(&b, m.ToolCalls)
			}
			if !m.Prefix {
				b.WriteString(TokEOS)
			}
		case "tool":
			if !inOutputs {
				b.WriteString(TokOutputsBegin)
				inOutputs = true
			} else {
				b.WriteString("\n")
			}
			b.WriteString(TokOutputBegin + m.Content + TokOutputEnd)
		}
	}
	if inOutputs {
		b.WriteString(TokOutputsEnd)
	} else if opts.AddGenerationPrompt && !isPrefixed(msgs) {
		b.WriteString(TokAssistant + r.genSuffix)
	}
	return b.String(), nil
}

// systemPrompt returns the system text written right after BOS.
func (r *v3Renderer) systemPrompt(msgs []Message) string {
	var parts []string
	for _, m := range msgs {
		if m.Role == "system" {
			parts = append(parts, m.Content)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	if r.lastSystemOnly {
		return parts[len(parts)-1]
	}
	return strings.Join(parts, "\n\n")
}

// history returns an assistant turn's text as written into the prompt.
func (r *v3Renderer) history(content string) string {
	if r.stripThinking {
		if i := strings.LastIndex(content, TokEndThink); i >= 0 {
			return content[i+len(TokEndThink):]
		}
	}
	return content
}

// writeV3Calls writes a V3-syntax tool-call block, calls one per line.
func writeV3Calls(b *strings.Builder, calls []ToolCall) {
	b.WriteString(TokToolCallsBegin)
	for i, c := range calls {
		if i > 0 {
			b.WriteString("\n")
		}
		typ := c.Type
		if typ == "" {
			typ = "function"
		}
		b.WriteString(TokToolCallBegin + typ + TokToolSep + c.Function.Name +
			"\n```json\n" + c.Function.Arguments + "\n```" + TokToolCallEnd)
	}
	b.WriteString(TokToolCallsEnd)
}
