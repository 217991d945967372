package openai

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"regexp"
)

// ChatRequest is a POST /v1/chat/completions body (OpenAI and DeepSeek).
// Pointer fields are nil when absent or null. Fields dseek does not use
// (user, metadata, ...) are accepted and ignored.
type ChatRequest struct {
	Model               string          `json:"model"`
	Messages            []Message       `json:"messages"`
	Stream              bool            `json:"stream"`
	StreamOptions       *StreamOptions  `json:"stream_options"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Seed                *int64          `json:"seed"`
	PresencePenalty     *float64        `json:"presence_penalty"`
	FrequencyPenalty    *float64        `json:"frequency_penalty"`
	Stop                StringList      `json:"stop"`
	LogitBias           LogitBias       `json:"logit_bias"`
	Logprobs            bool            `json:"logprobs"`
	TopLogprobs         *int            `json:"top_logprobs"`
	N                   *int            `json:"n"`
	Tools               []Tool          `json:"tools"`
	ToolChoice          *ToolChoice     `json:"tool_choice"`
	ParallelToolCalls   *bool           `json:"parallel_tool_calls"`
	ResponseFormat      *ResponseFormat `json:"response_format"`
	// Thinking is DeepSeek's switch: {"type": "enabled" | "disabled"}.
	Thinking *Thinking `json:"thinking"`
	// ReasoningEffort is OpenAI's knob; "none" turns thinking off, any
	// other accepted value turns it on.
	ReasoningEffort string `json:"reasoning_effort"`
}

// StreamOptions are the options of a streamed response.
type StreamOptions struct {
	// IncludeUsage sends a last chunk with usage and no choices.
	IncludeUsage bool `json:"include_usage"`
}

// Thinking switches reasoning on or off (DeepSeek).
type Thinking struct {
	Type string `json:"type"`
}

// ResponseFormat selects free text or a JSON object.
type ResponseFormat struct {
	Type string `json:"type"`
}

// Message is one conversation turn of a request.
type Message struct {
	Role    string  `json:"role"`
	Content Content `json:"content"`
	// ReasoningContent is an assistant turn's thinking (DeepSeek).
	ReasoningContent *string    `json:"reasoning_content"`
	ToolCalls        []ToolCall `json:"tool_calls"`
	ToolCallID       string     `json:"tool_call_id"`
	Name             string     `json:"name"`
	// Prefix marks the last assistant turn as text the answer must
	// continue (DeepSeek chat prefix completion).
	Prefix bool `json:"prefix"`
}

// ToolCall is a function call made by an assistant turn.
type ToolCall struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function FunctionCall `json:"function"`
}

// FunctionCall is a called function's name and its arguments as JSON text.
type FunctionCall struct {
	Name      string   `json:"name"`
	Arguments JSONText `json:"arguments"`
}

// Tool is a function the model may call.
type Tool struct {
	Type     string      `json:"type"`
	Function FunctionDef `json:"function"`
}

// FunctionDef describes a callable function.
type FunctionDef struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	Parameters  json.RawMessage `json:"parameters"`
	Strict      *bool           `json:"strict"`
}

// ToolChoice is "none", "auto", "required", or a named function.
type ToolChoice struct {
	// Mode is "none", "auto", "required" or "function".
	Mode string
	// Function is the forced function's name when Mode is "function".
	Function string
}

// UnmarshalJSON accepts the string modes and {"type": "function",
// "function": {"name": ...}}.
func (t *ToolChoice) UnmarshalJSON(b []byte) error {
	switch kindOf(b) {
	case "string":
		return json.Unmarshal(b, &t.Mode)
	case "object":
		var v struct {
			Type     string `json:"type"`
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return typeError(b, reflect.TypeFor[ToolChoice]())
		}
		if v.Type != "function" {
			return &fieldError{"tool_choice.type", fmt.Sprintf("%q is not supported (want \"function\")", v.Type)}
		}
		t.Mode, t.Function = "function", v.Function.Name
		return nil
	}
	return typeError(b, reflect.TypeFor[ToolChoice]())
}

// MarshalJSON writes the wire form.
func (t ToolChoice) MarshalJSON() ([]byte, error) {
	if t.Mode == "function" {
		return json.Marshal(map[string]any{"type": "function", "function": map[string]string{"name": t.Function}})
	}
	return json.Marshal(t.Mode)
}

// ParseChatRequest decodes and validates a chat completions body.
func ParseChatRequest(data []byte) (*ChatRequest, *Error) {
	var r ChatRequest
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Limits of the request fields.
const (
	MaxStop        = 16  // stop strings per request (DeepSeek's limit)
	MaxTools       = 128 // tools per request (OpenAI's limit)
	MaxTopLogprobs = 20
)

var toolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// Validate checks ranges and the conversation shape; the error names the
// first offending field.
func (r *ChatRequest) Validate() *Error {
	if err := r.validateSampling(); err != nil {
		return err
	}
	if len(r.Messages) == 0 {
		return Invalid("messages", "at least one message is required")
	}
	for i := range r.Messages {
		if err := r.Messages[i].validate(fmt.Sprintf("messages[%d]", i), i == len(r.Messages)-1); err != nil {
			return err
		}
	}
	if err := validateTools(r.Tools, r.ToolChoice); err != nil {
		return err
	}
	if f := r.ResponseFormat; f != nil && f.Type != "" && f.Type != "text" && f.Type != "json_object" {
		return Invalid("response_format.type", "%q is not supported (want \"text\" or \"json_object\")", f.Type)
	}
	if t := r.Thinking; t != nil && t.Type != "enabled" && t.Type != "disabled" {
		return Invalid("thinking.type", "%q is not valid (want \"enabled\" or \"disabled\")", t.Type)
	}
	switch r.ReasoningEffort {
	case "", "none", "minimal", "low", "medium", "high":
	default:
		return Invalid("reasoning_effort", "%q is not valid (want none, minimal, low, medium or high)", r.ReasoningEffort)
	}
	return nil
}

// validateSampling checks the numeric fields.
func (r *ChatRequest) validateSampling() *Error {
	if err := checkRange("temperature", r.Temperature, 0, 2); err != nil {
		return err
	}
	if err := checkRange("top_p", r.TopP, 0, 1); err != nil {
		return err
	}
	if err := checkRange("presence_penalty", r.PresencePenalty, -2, 2); err != nil {
		return err
	}
	if err := checkRange("frequency_penalty", r.FrequencyPenalty, -2, 2); err != nil {
		return err
	}
	if r.MaxTokens != nil && *r.MaxTokens < 1 {
		return Invalid("max_tokens", "must be at least 1, got %d", *r.MaxTokens)
	}
	if r.MaxCompletionTokens != nil && *r.MaxCompletionTokens < 1 {
		return Invalid("max_completion_tokens", "must be at least 1, got %d", *r.MaxCompletionTokens)
	}
	if r.N != nil && *r.N != 1 {
		return Invalid("n", "only 1 choice per request is supported, got %d", *r.N)
	}
	if len(r.Stop) > MaxStop {
		return Invalid("stop", "at most %d stop sequences, got %d", MaxStop, len(r.Stop))
	}
	if r.TopLogprobs != nil {
		if *r.TopLogprobs < 0 || *r.TopLogprobs > MaxTopLogprobs {
			return Invalid("top_logprobs", "must be between 0 and %d, got %d", MaxTopLogprobs, *r.TopLogprobs)
		}
		if !r.Logprobs && *r.TopLogprobs > 0 {
			return Invalid("top_logprobs", "requires logprobs to be true")
		}
	}
	return nil
}

// checkRange checks an optional number against [lo, hi].
func checkRange(name string, v *float64, lo, hi float64) *Error {
	if v == nil {
		return nil
	}
	if math.IsNaN(*v) || *v < lo || *v > hi {
		return Invalid(name, "must be between %g and %g, got %g", lo, hi, *v)
	}
	return nil
}

// validate checks one message; last tells whether it is the last one.
func (m *Message) validate(path string, last bool) *Error {
	switch m.Role {
	case "system", "developer", "user", "tool":
		if m.Content.Missing() {
			return Invalid(path+".content", "is required for a %s message", m.Role)
		}
	case "assistant":
		if m.Content.Missing() && len(m.ToolCalls) == 0 && m.ReasoningContent == nil && !m.Prefix {
			return Invalid(path+".content", "an assistant message needs content or tool_calls")
		}
	case "":
		return Invalid(path+".role", "is required")
	default:
		return Invalid(path+".role", "%q is not valid (want system, user, assistant or tool)", m.Role)
	}
	for j, p := range m.Content.Parts {
		if p.Type != "text" {
			return Invalid(fmt.Sprintf("%s.content[%d].type", path, j), "%q parts are not supported (only text)", p.Type)
		}
	}
	if m.Role == "tool" && m.ToolCallID == "" {
		return Invalid(path+".tool_call_id", "is required for a tool message")
	}
	if len(m.ToolCalls) > 0 && m.Role != "assistant" {
		return Invalid(path+".tool_calls", "only assistant messages carry tool calls")
	}
	for j, c := range m.ToolCalls {
		p := fmt.Sprintf("%s.tool_calls[%d]", path, j)
		if c.Type != "" && c.Type != "function" {
			return Invalid(p+".type", "%q is not supported (want \"function\")", c.Type)
		}
		if c.Function.Name == "" {
			return Invalid(p+".function.name", "is required")
		}
		if c.Function.Arguments != "" && !json.Valid([]byte(c.Function.Arguments)) {
			return Invalid(p+".function.arguments", "is not valid JSON")
		}
	}
	if m.Prefix && (!last || m.Role != "assistant") {
		return Invalid(path+".prefix", "only the last message, an assistant message, may be a prefix")
	}
	return nil
}

// validateTools checks the tool definitions and the tool choice.
func validateTools(tools []Tool, choice *ToolChoice) *Error {
	if len(tools) > MaxTools {
		return Invalid("tools", "at most %d tools, got %d", MaxTools, len(tools))
	}
	names := map[string]bool{}
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if t.Type != "function" {
			return Invalid(p+".type", "%q is not supported (want \"function\")", t.Type)
		}
		if !toolName.MatchString(t.Function.Name) {
			return Invalid(p+".function.name", "%q must be 1 to 64 letters, digits, underscores or dashes", t.Function.Name)
		}
		if ps := t.Function.Parameters; len(ps) > 0 && kindOf(ps) != "object" && kindOf(ps) != "null" {
			return Invalid(p+".function.parameters", "must be a JSON Schema object, got %s", kindOf(ps))
		}
		names[t.Function.Name] = true
	}
	if choice == nil {
		return nil
	}
	switch choice.Mode {
	case "none", "auto":
	case "required":
		if len(tools) == 0 {
			return Invalid("tool_choice", "\"required\" needs tools")
		}
	case "function":
		if !names[choice.Function] {
			return Invalid("tool_choice.function.name", "%q is not one of the tools", choice.Function)
		}
	default:
		return Invalid("tool_choice", "%q is not valid (want none, auto, required or a function)", choice.Mode)
	}
	return nil
}

// ThinkingSwitch resolves thinking and reasoning_effort to nil (model
// default), true or false. thinking wins when both are given.
func (r *ChatRequest) ThinkingSwitch() *bool {
	var v bool
	switch {
	case r.Thinking != nil:
		v = r.Thinking.Type == "enabled"
	case r.ReasoningEffort != "":
		v = r.ReasoningEffort != "none"
	default:
		return nil
	}
	return &v
}

// MaxOutputTokens is max_completion_tokens, else max_tokens, else 0.
func (r *ChatRequest) MaxOutputTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}
