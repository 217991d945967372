package chat

import (
	"errors"
	"strings"
)

// llmRenderer renders DeepSeek-LLM and DeepSeek-V2(-Lite)-Chat prompts, as
// their template (the fixture ds2-lite-tiny's tokenizer.chat_template) and
// llama.cpp's LLM_CHAT_TEMPLATE_DEEPSEEK_2 do:
//
//	{BOS}{system}\n\nUser: {user}\n\nAssistant: {assistant}{EOS}User: ...\n\nAssistant:
//
// System turns are written where they occur, tool turns are skipped (the
// template has no tool role), and an assistant turn's text is kept whole.
// These models have no tool syntax, so tools are an error.
type llmRenderer struct{}

// Render implements Renderer.
func (llmRenderer) Render(msgs []Message, opts RenderOptions) (string, error) {
	if err := validate(msgs); err != nil {
		return "", err
	}
	if len(opts.Tools) > 0 {
		return "", errors.New("chat: DeepSeek-LLM/V2 chat format has no tool calls")
	}
	var b strings.Builder
	b.WriteString(opts.BOS)
	for _, m := range msgs {
		switch m.Role {
		case "system":
			b.WriteString(m.Content + "\n\n")
		case "user":
			b.WriteString("User: " + m.Content + "\n\n")
		case "assistant":
			b.WriteString("Assistant: " + m.Content)
			if !m.Prefix {
				b.WriteString(opts.EOS)
			}
		}
	}
	if opts.AddGenerationPrompt && !isPrefixed(msgs) {
		b.WriteString("Assistant:")
	}
	return b.String(), nil
}
