package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// ToolPrompt returns the text that tells a model of the given family which
// tools it may call and the exact call syntax its parser expects: a "## Tools"
// section listing each function's name, description and parameter schema
// (compact JSON, key order kept), then the call syntax (V3 syntax for
// FormatDeepSeekV3 and FormatDeepSeekR1, V3.1 syntax for FormatDeepSeekV31).
// The layout follows the tool section DeepSeek documents for V3.1 (heading,
// one "###" block per function, then the syntax); the wording is dseek's.
// It returns "" for no tools, and an error for FormatDeepSeekLLM and unknown
// families (they have no tool syntax) or invalid parameter JSON.
func ToolPrompt(format string, tools []Tool) (string, error) {
	if len(tools) == 0 {
		return "", nil
	}
	var syntax string
	switch format {
	case FormatDeepSeekV3, FormatDeepSeekR1:
		syntax = TokToolCallsBegin + TokToolCallBegin + "function" + TokToolSep + "FUNCTION_NAME\n```json\nARGUMENTS\n```" +
			TokToolCallEnd + TokToolCallsEnd + "\n\nPut several calls one per line between " + TokToolCallsBegin +
			" and " + TokToolCallsEnd + "."
	case FormatDeepSeekV31:
		syntax = TokToolCallsBegin + TokToolCallBegin + "FUNCTION_NAME" + TokToolSep + "ARGUMENTS" + TokToolCallEnd +
			TokToolCallsEnd + "\n\nPut several calls directly one after another, with nothing between them."
	default:
		return "", fmt.Errorf("chat: family %q has no tool-call syntax", format)
	}
	var b strings.Builder
	b.WriteString("## Tools\n\nYou can call the functions below. Each has a name, a description and a JSON Schema of its arguments.\n")
	for i, t := range tools {
		if t.Function.Name == "" {
			return "", fmt.Errorf("chat: tool %d has no function name", i)
		}
		b.WriteString("\n### " + t.Function.Name + "\n")
		if t.Function.Description != "" {
			b.WriteString("Description: " + t.Function.Description + "\n")
		}
		if len(t.Function.Parameters) > 0 {
			var c bytes.Buffer
			if err := json.Compact(&c, t.Function.Parameters); err != nil {
				return "", fmt.Errorf("chat: tool %q parameters: %w", t.Function.Name, err)
			}
			b.WriteString("Parameters: " + c.String() + "\n")
		}
	}
	b.WriteString("\nTo call functions, answer with exactly this syntax, where FUNCTION_NAME is one of the functions above and ARGUMENTS a JSON object following its Parameters schema:\n")
	b.WriteString(syntax)
	return b.String(), nil
}

// withToolPrompt returns msgs with ToolPrompt(format, tools) appended to the
// last system message (separated by a blank line), or prepended as a new
// system message when there is none. The last system message is used
// because the R1 template keeps only the last one and the V3/V3.1 templates
// join them all in order, so the tool text ends the system prompt in every
// family. msgs itself is not modified.
func withToolPrompt(msgs []Message, format string, tools []Tool) ([]Message, error) {
	text, err := ToolPrompt(format, tools)
	if err != nil || text == "" {
		return msgs, err
	}
	out := make([]Message, len(msgs), len(msgs)+1)
	copy(out, msgs)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].Role == "system" {
			if out[i].Content != "" {
				text = out[i].Content + "\n\n" + text
			}
			out[i].Content = text
			return out, nil
		}
	}
	return append([]Message{{Role: "system", Content: text}}, out...), nil
}
