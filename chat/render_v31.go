package chat

import "strings"

// v31Renderer renders the DeepSeek-V3.1 / V3.1-Terminus chat format, as the
// official V3.1 template (DeepSeek-V3.1 tokenizer_config.json; copy in
// testdata/templates):
//
//	{BOS}{system}<｜User｜>{u}<｜Assistant｜></think>{a}<｜end▁of▁sentence｜><｜User｜>{u}<｜Assistant｜><think>
//
// The generation prompt ends in <think> when RenderOptions.Thinking is true
// and in </think> otherwise (the default). History assistant turns right
// after a user turn are written as non-thinking (</think>) with only the text
// after their first </think>. Tool calls use the V3.1 syntax, calls directly
// one after another:
//
//	<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>{name}<｜tool▁sep｜>{args}<｜tool▁call▁end｜>...<｜tool▁calls▁end｜><｜end▁of▁sentence｜>
//
// and results <｜tool▁output▁begin｜>{out}<｜tool▁output▁end｜> with no outer
// block; the assistant's answer then follows without <｜Assistant｜>, and a
// conversation ending in tool results gets no generation prompt. A Prefix
// turn right after a user turn opens with <think> in thinking mode.
type v31Renderer struct{}

// Render implements Renderer.
func (v31Renderer) Render(msgs []Message, opts RenderOptions) (string, error) {
	if err := validate(msgs); err != nil {
		return "", err
	}
	msgs, err := withToolPrompt(msgs, FormatDeepSeekV31, opts.Tools)
	if err != nil {
		return "", err
	}
	thinking := opts.Thinking != nil && *opts.Thinking
	var b strings.Builder
	b.WriteString(opts.BOS)
	var sys []string
	for _, m := range msgs {
		if m.Role == "system" {
			sys = append(sys, m.Content)
		}
	}
	b.WriteString(strings.Join(sys, "\n\n"))
	lastUser, afterTool := false, false
	for _, m := range msgs {
		switch m.Role {
		case "user":
			lastUser, afterTool = true, false
			b.WriteString(TokUser + m.Content)
		case "assistant":
			if lastUser {
				b.WriteString(TokAssistant)
				if m.Prefix && thinking && len(m.ToolCalls) == 0 {
					b.WriteString(TokThink)
				} else {
					b.WriteString(TokEndThink)
				}
			}
			content := m.Content
			if !afterTool && len(m.ToolCalls) == 0 {
				if _, after, ok := strings.Cut(content, TokEndThink); ok {
					content = after
				}
			}
			b.WriteString(content)
			if len(m.ToolCalls) > 0 {
				b.WriteString(TokToolCallsBegin)
				for _, c := range m.ToolCalls {
					b.WriteString(TokToolCallBegin + c.Function.Name + TokToolSep + c.Function.Arguments + TokToolCallEnd)
				}
				b.WriteString(TokToolCallsEnd)
			}
			if !m.Prefix {
				b.WriteString(TokEOS)
			}
			lastUser, afterTool = false, false
		case "tool":
			lastUser, afterTool = false, true
			b.WriteString(TokOutputBegin + m.Content + TokOutputEnd)
		}
	}
	if opts.AddGenerationPrompt && lastUser && !isPrefixed(msgs) {
		b.WriteString(TokAssistant)
		if thinking {
			b.WriteString(TokThink)
		} else {
			b.WriteString(TokEndThink)
		}
	}
	return b.String(), nil
}
