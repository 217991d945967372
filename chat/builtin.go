package chat

import (
	"fmt"
	"strings"
)

// Builtin returns the Go renderer of a DeepSeek family: FormatDeepSeekLLM,
// FormatDeepSeekV3, FormatDeepSeekR1 (alias "deepseek-r1-distill") or
// FormatDeepSeekV31. It returns an error for any other name.
//
// Built-in renderers follow the official templates (DeepSeek-V2-Chat, V3, R1,
// V3.1 tokenizer_config.json) and produce the same text wherever those
// templates are correct; they differ on purpose where the templates have
// known defects (see the renderer docs), ignore RenderOptions.Vars, and
// describe tools through ToolPrompt.
func Builtin(name string) (Renderer, error) {
	switch name {
	case FormatDeepSeekLLM:
		return llmRenderer{}, nil
	case FormatDeepSeekV3:
		return newV3Renderer(), nil
	case FormatDeepSeekR1, "deepseek-r1-distill":
		return newR1Renderer(), nil
	case FormatDeepSeekV31:
		return v31Renderer{}, nil
	}
	return nil, fmt.Errorf("chat: no built-in renderer %q (have %s, %s, %s, %s)", name,
		FormatDeepSeekLLM, FormatDeepSeekV3, FormatDeepSeekR1, FormatDeepSeekV31)
}

// Detect names the DeepSeek family of a chat template from markers in its
// text, or from the GGUF general.architecture when the template is empty.
// It returns "" when it cannot tell. Rules, in order:
//
//   - empty template: deepseek2 -> V3; qwen2, llama -> R1 (the R1-Distill
//     models; DeepSeek-LLM files always carry their template);
//   - "｜DSML｜" (DSML tool calls) -> V3.2;
//   - <｜User｜>/<｜Assistant｜> turns with a "<think>" followed by a newline
//     (forced-open thinking) -> R1;
//   - such turns with any other "<think>" (a thinking switch) -> V3.1;
//   - such turns without "<think>" -> V3 (this includes R1-0528, whose model
//     opens <think> itself; the parser handles a leading <think>);
//   - "User: " and "Assistant:" turns -> DeepSeek-LLM.
func Detect(templateSrc, arch string) string {
	src := templateSrc
	switch {
	case strings.TrimSpace(src) == "":
		switch arch {
		case "deepseek2":
			return FormatDeepSeekV3
		case "qwen2", "llama":
			return FormatDeepSeekR1
		}
		return ""
	case strings.Contains(src, "｜DSML｜"):
		return FormatDeepSeekV32
	case strings.Contains(src, TokUser) || strings.Contains(src, TokAssistant):
		switch {
		// A Jinja escape (backslash n) or a literal newline after <think>.
		case strings.Contains(src, TokThink+`\n`) || strings.Contains(src, TokThink+"\n"):
			return FormatDeepSeekR1
		case strings.Contains(src, TokThink):
			return FormatDeepSeekV31
		}
		return FormatDeepSeekV3
	case strings.Contains(src, "User: ") && strings.Contains(src, "Assistant:"):
		return FormatDeepSeekLLM
	}
	return ""
}

// probe is the conversation ForModel renders to check that a template works.
var probe = []Message{
	{Role: "system", Content: "s"},
	{Role: "user", Content: "u"},
	{Role: "assistant", Content: "a"},
	{Role: "user", Content: "u"},
}

// ForModel picks the renderer for a model file: the file's own template
// (templateSrc, may be empty) when it compiles and renders a probe
// conversation, otherwise the built-in renderer of the detected family. It
// returns the renderer, the family name from Detect (which selects the
// Parser) and an error when neither works. arch is the GGUF
// general.architecture.
func ForModel(templateSrc, arch string) (Renderer, string, error) {
	format := Detect(templateSrc, arch)
	var tplErr error
	if strings.TrimSpace(templateSrc) != "" {
		t, err := NewJinja(templateSrc)
		if err == nil {
			_, err = t.Render(probe, RenderOptions{AddGenerationPrompt: true})
		}
		if err == nil {
			return t, format, nil
		}
		tplErr = err
	}
	r, err := Builtin(format)
	if err != nil {
		if tplErr != nil {
			return nil, format, fmt.Errorf("chat: template unusable (%v) and no built-in renderer for family %q", tplErr, format)
		}
		return nil, format, fmt.Errorf("chat: no chat template and no built-in renderer for architecture %q", arch)
	}
	return r, format, nil
}
