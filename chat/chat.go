// Package chat turns a conversation into the prompt text a DeepSeek model
// expects, and turns the text it generates back into reasoning, content and
// tool calls.
//
// Rendering comes in two kinds that share one interface, Renderer:
//
//   - Template (NewJinja) renders the Jinja chat template stored in a GGUF
//     file's tokenizer.chat_template with Hugging Face's conventions
//     (transformers' apply_chat_template: trim_blocks, lstrip_blocks, the
//     messages/tools/add_generation_prompt/bos_token/eos_token variables).
//   - Built-in renderers (Builtin) are Go code, one file per DeepSeek family,
//     for files without a template or with one that cannot be rendered. On the
//     official templates they produce byte-identical prompts (tested).
//
// Detect names the family of a template, which also selects the output
// Parser (NewParser) and tells whether the prompt forces thinking.
//
// # BOS contract
//
// Every DeepSeek template writes bos_token itself, and so do the built-in
// renderers: when RenderOptions.BOS is set, the prompt starts with it exactly
// once. The caller must then tokenize the prompt with special-token parsing on
// and without adding BOS again (llama.cpp's add_special=false); StartsWithBOS
// tells which case applies. With RenderOptions.BOS empty the prompt has no BOS
// and the tokenizer should add it (add_special=true), which is what llama.cpp's
// built-in formatter does (the fixtures' text.json prompts).
package chat

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Message is one turn of a conversation, in the OpenAI chat format with
// DeepSeek's extensions (reasoning_content, prefix).
type Message struct {
	// Role is "system", "user", "assistant" or "tool".
	Role string
	// Content is the text of the turn. An assistant turn that only calls
	// tools has empty Content (rendered to templates as none, as the
	// OpenAI API's null).
	Content string
	// ReasoningContent is the thinking of an assistant turn, kept apart from
	// Content. The DeepSeek templates drop it from the history.
	ReasoningContent string
	// ToolCalls are the calls an assistant turn made.
	ToolCalls []ToolCall
	// ToolCallID links a "tool" turn to the call it answers.
	ToolCallID string
	// Name is an optional participant or tool name.
	Name string
	// Prefix marks the last assistant turn as a prefix the model must
	// continue (DeepSeek's chat prefix completion): it is rendered without
	// its end-of-sentence token and no generation prompt follows.
	Prefix bool
}

// ToolCall is one function call made by an assistant turn.
type ToolCall struct {
	// ID identifies the call (assigned by the API layer; the parser leaves it
	// empty).
	ID string
	// Type is "function".
	Type string
	// Function is the called function and its arguments.
	Function FunctionCall
}

// FunctionCall names a function and carries its arguments.
type FunctionCall struct {
	// Name is the function name.
	Name string
	// Arguments is the arguments object as JSON text, e.g. {"city":"Paris"}.
	Arguments string
}

// Tool describes a function the model may call.
type Tool struct {
	// Type is "function".
	Type string
	// Function is the function's definition.
	Function FunctionDef
}

// FunctionDef is a callable function's name, description and JSON Schema.
type FunctionDef struct {
	// Name is the function name the model must use in its calls.
	Name string
	// Description tells the model what the function does.
	Description string
	// Parameters is the JSON Schema of the arguments object (JSON text; key
	// order is kept when rendered).
	Parameters json.RawMessage
}

// RenderOptions are the per-request inputs to a Renderer besides the messages.
type RenderOptions struct {
	// AddGenerationPrompt appends the assistant header so the model answers.
	AddGenerationPrompt bool
	// Thinking switches thinking on or off where the family supports it
	// (V3.1); nil keeps the model's default (off for V3.1; R1 always thinks).
	// Templates receive it as both `thinking` and `enable_thinking`.
	Thinking *bool
	// Tools are the functions the model may call. Templates that use the
	// `tools` variable receive them; for the DeepSeek templates, which do not,
	// and for the built-in renderers, a description of the tools in the
	// family's call syntax is appended to the system prompt (ToolPrompt).
	Tools []Tool
	// BOS and EOS are the tokenizer's begin/end-of-sentence texts, given to
	// templates as bos_token/eos_token. See the package doc for the BOS
	// contract.
	BOS, EOS string
	// Vars are extra template variables (Hugging Face's chat_template_kwargs);
	// values must be JSON-like (nil, bool, numbers, string, []any,
	// map[string]any). They override the variables above. Built-in renderers
	// ignore them.
	Vars map[string]any
}

// Renderer renders a conversation into prompt text. Template and the
// built-in renderers implement it.
type Renderer interface {
	// Render returns the prompt for msgs, or an error for an invalid
	// conversation (unknown role, tool calls outside assistant turns, a
	// Prefix turn that is not the last assistant turn) or a failing template.
	Render(msgs []Message, opts RenderOptions) (string, error)
}

// Family names returned by Detect and accepted by Builtin and NewParser.
const (
	// FormatDeepSeekLLM is DeepSeek-LLM and DeepSeek-V2(-Lite)-Chat:
	// "User: ...\n\nAssistant:" turns, system text first. No tools, no
	// thinking.
	FormatDeepSeekLLM = "deepseek-llm"
	// FormatDeepSeekV3 is DeepSeek-V2.5, V3, V3-0324 (and R1-0528, whose
	// template does not force thinking): <｜User｜>/<｜Assistant｜> turns and
	// V3 tool-call syntax (type, name, fenced JSON).
	FormatDeepSeekV3 = "deepseek-v3"
	// FormatDeepSeekR1 is DeepSeek-R1 and the R1-Distill models: V3 turns, a
	// generation prompt ending in "<think>\n", and history turns reduced to
	// the text after "</think>".
	FormatDeepSeekR1 = "deepseek-r1"
	// FormatDeepSeekV31 is DeepSeek-V3.1 / Terminus: V3 turns with a
	// "<think>" (thinking) or "</think>" (non-thinking) generation prompt and
	// the V3.1 tool-call syntax (name, raw JSON).
	FormatDeepSeekV31 = "deepseek-v3.1"
	// FormatDeepSeekV32 is DeepSeek-V3.2 and later (DSML tool calls). Detect
	// reports it so callers can tell it apart; there is no built-in renderer
	// or parser for it yet.
	FormatDeepSeekV32 = "deepseek-v3.2"
)

// DeepSeek special-token texts used by the V2.5+ chat formats
// (DeepSeek-V3 tokenizer_config.json added_tokens).
const (
	TokBOS            = "<｜begin▁of▁sentence｜>"
	TokEOS            = "<｜end▁of▁sentence｜>"
	TokUser           = "<｜User｜>"
	TokAssistant      = "<｜Assistant｜>"
	TokThink          = "<think>"
	TokEndThink       = "</think>"
	TokToolCallsBegin = "<｜tool▁calls▁begin｜>"
	TokToolCallsEnd   = "<｜tool▁calls▁end｜>"
	TokToolCallBegin  = "<｜tool▁call▁begin｜>"
	TokToolCallEnd    = "<｜tool▁call▁end｜>"
	TokToolSep        = "<｜tool▁sep｜>"
	TokOutputsBegin   = "<｜tool▁outputs▁begin｜>"
	TokOutputsEnd     = "<｜tool▁outputs▁end｜>"
	TokOutputBegin    = "<｜tool▁output▁begin｜>"
	TokOutputEnd      = "<｜tool▁output▁end｜>"
)

// StartsWithBOS reports whether prompt begins with the BOS text bos (false
// for an empty bos). When true, tokenize with add_special=false so BOS is not
// doubled.
func StartsWithBOS(prompt, bos string) bool {
	return bos != "" && strings.HasPrefix(prompt, bos)
}

// EndsInReasoning reports whether prompt ends inside an open think block
// ("<think>" possibly followed by whitespace), as the R1 template and V3.1's
// thinking mode leave it. Pass the result as ParserOptions.StartInReasoning.
func EndsInReasoning(prompt string) bool {
	return strings.HasSuffix(strings.TrimRight(prompt, " \t\r\n"), TokThink)
}

// validate checks the conversation shape every renderer relies on.
func validate(msgs []Message) error {
	for i, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant", "tool":
		default:
			return fmt.Errorf("chat: message %d: unknown role %q", i, m.Role)
		}
		if len(m.ToolCalls) > 0 && m.Role != "assistant" {
			return fmt.Errorf("chat: message %d: tool calls in a %q turn", i, m.Role)
		}
		for j, c := range m.ToolCalls {
			if c.Function.Name == "" {
				return fmt.Errorf("chat: message %d: tool call %d has no function name", i, j)
			}
		}
		if m.Prefix && (m.Role != "assistant" || i != len(msgs)-1) {
			return fmt.Errorf("chat: message %d: prefix is only allowed on the last message, an assistant turn", i)
		}
	}
	return nil
}

// isPrefixed reports whether the conversation ends in a Prefix turn.
func isPrefixed(msgs []Message) bool {
	return len(msgs) > 0 && msgs[len(msgs)-1].Prefix
}
