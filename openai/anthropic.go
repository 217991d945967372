package openai

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// MessagesRequest is an Anthropic POST /v1/messages body.
type MessagesRequest struct {
	Model         string        `json:"model"`
	MaxTokens     *int          `json:"max_tokens"`
	Messages      []AnthMessage `json:"messages"`
	System        AnthSystem    `json:"system"`
	StopSequences []string      `json:"stop_sequences"`
	Stream        bool          `json:"stream"`
	Temperature   *float64      `json:"temperature"`
	TopP          *float64      `json:"top_p"`
	TopK          *int          `json:"top_k"`
	Tools         []AnthTool    `json:"tools"`
	ToolChoice    *AnthToolPick `json:"tool_choice"`
	// Thinking is {"type": "enabled", "budget_tokens": N} or
	// {"type": "disabled"}; the budget is accepted and not enforced.
	Thinking *AnthThinking `json:"thinking"`
}

// AnthMessage is one turn: role "user" or "assistant".
type AnthMessage struct {
	Role    string      `json:"role"`
	Content AnthContent `json:"content"`
}

// AnthContent is a string or an array of content blocks.
type AnthContent struct {
	Blocks []AnthBlock
	Null   bool
}

// AnthBlock is a request content block: text, thinking,
// redacted_thinking, tool_use, tool_result (image and document blocks are
// refused by validation).
type AnthBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text,omitempty"`
	Thinking  string          `json:"thinking,omitempty"`
	Signature string          `json:"signature,omitempty"`
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Input     json.RawMessage `json:"input,omitempty"`
	ToolUseID string          `json:"tool_use_id,omitempty"`
	Content   *AnthContent    `json:"content,omitempty"`
	IsError   bool            `json:"is_error,omitempty"`
}

// UnmarshalJSON accepts a string (one text block) or an array of blocks.
func (c *AnthContent) UnmarshalJSON(b []byte) error {
	*c = AnthContent{}
	switch kindOf(b) {
	case "null":
		c.Null = true
		return nil
	case "string":
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		c.Blocks = []AnthBlock{{Type: "text", Text: s}}
		return nil
	case "array":
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return typeError(b, reflect.TypeFor[AnthContent]())
		}
		c.Blocks = make([]AnthBlock, len(raws))
		for i, r := range raws {
			if err := json.Unmarshal(r, &c.Blocks[i]); err != nil {
				return &json.UnmarshalTypeError{Value: blockProblem(r, i, err), Type: reflect.TypeFor[AnthContent]()}
			}
		}
		return nil
	}
	return typeError(b, reflect.TypeFor[AnthContent]())
}

// blockProblem describes why element i of a content array is not a content
// block, for the "got ..." of the error message.
func blockProblem(raw []byte, i int, err error) string {
	if k := kindOf(raw); k != "object" {
		return fmt.Sprintf("an array holding a %s at [%d]", k, i)
	}
	var te *json.UnmarshalTypeError
	if asTypeError(err, &te) && te.Field != "" {
		return fmt.Sprintf("an array whose block [%d] has a %s %s", i, te.Value, te.Field)
	}
	return fmt.Sprintf("an array whose block [%d] is malformed: %v", i, err)
}

// Text joins the text blocks with "\n".
func (c *AnthContent) Text() string {
	var s string
	for _, b := range c.Blocks {
		if b.Type == "text" {
			if s != "" {
				s += "\n"
			}
			s += b.Text
		}
	}
	return s
}

// AnthSystem is the system prompt: a string or an array of text blocks.
type AnthSystem struct {
	Text string
}

// UnmarshalJSON accepts a string, null or text blocks.
func (s *AnthSystem) UnmarshalJSON(b []byte) error {
	var c AnthContent
	switch kindOf(b) {
	case "string", "array", "null":
		if err := c.UnmarshalJSON(b); err != nil {
			var te *json.UnmarshalTypeError
			if asTypeError(err, &te) {
				return &json.UnmarshalTypeError{Value: te.Value, Type: reflect.TypeFor[AnthSystem]()}
			}
			return typeError(b, reflect.TypeFor[AnthSystem]())
		}
		for i, blk := range c.Blocks {
			if blk.Type != "text" {
				return &fieldError{field: fmt.Sprintf("system[%d].type", i), msg: fmt.Sprintf("%q blocks are not supported in the system prompt (text only)", blk.Type)}
			}
		}
		s.Text = c.Text()
		return nil
	}
	return typeError(b, reflect.TypeFor[AnthSystem]())
}

// AnthTool is a client tool definition.
type AnthTool struct {
	Name        string          `json:"name"`
	Description string          `json:"description"`
	InputSchema json.RawMessage `json:"input_schema"`
	Type        string          `json:"type"`
}

// AnthToolPick is the tool_choice object.
type AnthToolPick struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// UnmarshalJSON accepts only an object.
func (t *AnthToolPick) UnmarshalJSON(b []byte) error {
	if kindOf(b) != "object" {
		return typeError(b, reflect.TypeFor[AnthToolPick]())
	}
	type plain AnthToolPick
	return json.Unmarshal(b, (*plain)(t))
}

// AnthThinking switches extended thinking.
type AnthThinking struct {
	Type         string `json:"type"`
	BudgetTokens int    `json:"budget_tokens"`
}

// ParseMessagesRequest decodes and validates an Anthropic Messages body.
func ParseMessagesRequest(data []byte) (*MessagesRequest, *Error) {
	var r MessagesRequest
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the request; the error names the first offending field.
func (r *MessagesRequest) Validate() *Error {
	switch {
	case r.MaxTokens == nil:
		return Invalid("max_tokens", "is required")
	case *r.MaxTokens < 1:
		return Invalid("max_tokens", "must be at least 1, got %d", *r.MaxTokens)
	case len(r.Messages) == 0:
		return Invalid("messages", "at least one message is required")
	case r.TopK != nil && *r.TopK < 0:
		return Invalid("top_k", "must not be negative, got %d", *r.TopK)
	}
	if err := checkRange("temperature", r.Temperature, 0, 1); err != nil {
		return err
	}
	if err := checkRange("top_p", r.TopP, 0, 1); err != nil {
		return err
	}
	for i := range r.Messages {
		if err := r.Messages[i].validate(fmt.Sprintf("messages[%d]", i)); err != nil {
			return err
		}
	}
	names := map[string]bool{}
	for i, t := range r.Tools {
		if !toolName.MatchString(t.Name) {
			return Invalid(fmt.Sprintf("tools[%d].name", i), "%q must be 1 to 64 letters, digits, underscores or dashes", t.Name)
		}
		if t.Type == "" || t.Type == "custom" {
			if k := kindOf(t.InputSchema); k != "object" {
				return Invalid(fmt.Sprintf("tools[%d].input_schema", i), "must be a JSON Schema object, got %s", k)
			}
		}
		names[t.Name] = true
	}
	if err := r.validateChoice(names); err != nil {
		return err
	}
	if t := r.Thinking; t != nil && t.Type != "enabled" && t.Type != "disabled" {
		return Invalid("thinking.type", "%q is not valid (want \"enabled\" or \"disabled\")", t.Type)
	}
	return nil
}

// validateChoice checks tool_choice against the tool names.
func (r *MessagesRequest) validateChoice(names map[string]bool) *Error {
	c := r.ToolChoice
	if c == nil {
		return nil
	}
	switch c.Type {
	case "auto", "none":
	case "any":
		if len(names) == 0 {
			return Invalid("tool_choice", "\"any\" needs tools")
		}
	case "tool":
		if !names[c.Name] {
			return Invalid("tool_choice.name", "%q is not one of the tools", c.Name)
		}
	default:
		return Invalid("tool_choice.type", "%q is not valid (want auto, any, tool or none)", c.Type)
	}
	return nil
}

// validate checks one turn.
func (m *AnthMessage) validate(path string) *Error {
	if m.Role != "user" && m.Role != "assistant" {
		return Invalid(path+".role", "%q is not valid (want user or assistant)", m.Role)
	}
	if m.Content.Null || m.Content.Blocks == nil {
		return Invalid(path+".content", "is required")
	}
	for j, b := range m.Content.Blocks {
		p := fmt.Sprintf("%s.content[%d]", path, j)
		switch b.Type {
		case "text", "thinking", "redacted_thinking":
		case "tool_use":
			if m.Role != "assistant" {
				return Invalid(p+".type", "tool_use blocks belong to assistant turns")
			}
			if b.Name == "" {
				return Invalid(p+".name", "is required")
			}
			if k := kindOf(b.Input); k != "object" {
				return Invalid(p+".input", "must be an object, got %s", k)
			}
		case "tool_result":
			if m.Role != "user" {
				return Invalid(p+".type", "tool_result blocks belong to user turns")
			}
			if b.ToolUseID == "" {
				return Invalid(p+".tool_use_id", "is required")
			}
			if b.Content != nil {
				for k, rb := range b.Content.Blocks {
					if rb.Type != "text" {
						return Invalid(fmt.Sprintf("%s.content[%d].type", p, k), "%q blocks are not supported in a tool result (text only)", rb.Type)
					}
				}
			}
		default:
			return Invalid(p+".type", "%q blocks are not supported (text, thinking, tool_use, tool_result)", b.Type)
		}
	}
	return nil
}

// MessagesResponse is an Anthropic Messages response (also the message of
// a message_start event, with empty content).
type MessagesResponse struct {
	ID           string    `json:"id"`
	Type         string    `json:"type"` // "message"
	Role         string    `json:"role"` // "assistant"
	Model        string    `json:"model"`
	Content      []any     `json:"content"` // *TextBlock, *ThinkingBlock, *ToolUseBlock
	StopReason   *string   `json:"stop_reason"`
	StopSequence *string   `json:"stop_sequence"`
	Usage        AnthUsage `json:"usage"`
}

// TextBlock is a response text block.
type TextBlock struct {
	Type string `json:"type"` // "text"
	Text string `json:"text"`
}

// ThinkingBlock is a response thinking block. dseek does not sign its
// thinking: Signature is empty.
type ThinkingBlock struct {
	Type      string `json:"type"` // "thinking"
	Thinking  string `json:"thinking"`
	Signature string `json:"signature"`
}

// ToolUseBlock is a response tool call.
type ToolUseBlock struct {
	Type  string          `json:"type"` // "tool_use"
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Input json.RawMessage `json:"input"`
}

// AnthUsage counts tokens the Anthropic way: input_tokens excludes the
// prompt tokens read from the cache (cache_read_input_tokens).
type AnthUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}

// Anthropic stop reasons.
const (
	StopEndTurn      = "end_turn"
	StopMaxTokens    = "max_tokens"
	StopStopSequence = "stop_sequence"
	StopToolUse      = "tool_use"
)

// Anthropic stream events (the event name is Type).
type (
	// MessageStart opens a stream.
	MessageStart struct {
		Type    string           `json:"type"` // "message_start"
		Message MessagesResponse `json:"message"`
	}
	// BlockStart opens content block Index.
	BlockStart struct {
		Type         string `json:"type"` // "content_block_start"
		Index        int    `json:"index"`
		ContentBlock any    `json:"content_block"`
	}
	// BlockDelta adds to content block Index: {"type": "text_delta",
	// "text"}, {"type": "thinking_delta", "thinking"} or {"type":
	// "input_json_delta", "partial_json"}.
	BlockDelta struct {
		Type  string         `json:"type"` // "content_block_delta"
		Index int            `json:"index"`
		Delta map[string]any `json:"delta"`
	}
	// BlockStop closes content block Index.
	BlockStop struct {
		Type  string `json:"type"` // "content_block_stop"
		Index int    `json:"index"`
	}
	// MessageDelta carries the stop reason and the output token count.
	MessageDelta struct {
		Type  string            `json:"type"` // "message_delta"
		Delta MessageDeltaBody  `json:"delta"`
		Usage MessageDeltaUsage `json:"usage"`
	}
	// MessageStop ends a stream.
	MessageStop struct {
		Type string `json:"type"` // "message_stop"
	}
)

// MessageDeltaBody is the delta of a message_delta event.
type MessageDeltaBody struct {
	StopReason   *string `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// MessageDeltaUsage is the usage of a message_delta event: the final,
// cumulative counts (the SDKs take input and cache counts from it too).
type MessageDeltaUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
}
