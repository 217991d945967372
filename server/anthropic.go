package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
)

// handleMessages serves POST /v1/messages (Anthropic Messages API).
func (s *Server) handleMessages(w http.ResponseWriter, r *http.Request) {
	body, apiErr := s.readBody(w, r)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	req, apiErr := openai.ParseMessagesRequest(body)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	msgs := anthropicMessages(req)
	tools, msgs := anthropicTools(req, msgs)
	p, apiErr := s.renderChat(msgs, tools, anthropicThinking(req))
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	out, apiErr := s.newChatOutput(p, "toolu_")
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	ereq := engine.Request{
		Prompt:    p.tokens,
		Sampling:  samplingParams(req.Temperature, req.TopP, nil, nil, req.TopK, nil, nil),
		MaxTokens: *req.MaxTokens, Stop: req.StopSequences, Special: true,
	}
	gen, apiErr := s.submit(r.Context(), ereq, "messages", "messages")
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	u, apiErr, err := gen.started(r.Context())
	if err != nil {
		return // the client is gone
	} else if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	job := &messagesJob{s: s, gen: gen, out: out, id: newID("msg_"), admitted: u}
	if req.Stream {
		job.stream(w, r)
	} else {
		job.complete(w, r)
	}
}

// anthropicMessages converts the turns: a user turn's tool_result blocks
// become tool messages (before its text), an assistant turn's thinking
// becomes its reasoning and tool_use blocks its tool calls. A final
// assistant turn with text is a prefix the answer continues (Anthropic's
// prefill).
func anthropicMessages(req *openai.MessagesRequest) []chat.Message {
	var msgs []chat.Message
	if req.System.Text != "" {
		msgs = append(msgs, chat.Message{Role: "system", Content: req.System.Text})
	}
	for _, m := range req.Messages {
		if m.Role == "user" {
			for _, b := range m.Content.Blocks {
				if b.Type == "tool_result" {
					text := ""
					if b.Content != nil {
						text = b.Content.Text()
					}
					msgs = append(msgs, chat.Message{Role: "tool", ToolCallID: b.ToolUseID, Content: text})
				}
			}
			if t := m.Content.Text(); t != "" || !hasBlock(m.Content.Blocks, "tool_result") {
				msgs = append(msgs, chat.Message{Role: "user", Content: t})
			}
			continue
		}
		am := chat.Message{Role: "assistant", Content: m.Content.Text()}
		var thinking []string
		for _, b := range m.Content.Blocks {
			switch b.Type {
			case "thinking":
				thinking = append(thinking, b.Thinking)
			case "tool_use":
				am.ToolCalls = append(am.ToolCalls, chat.ToolCall{ID: b.ID, Type: "function",
					Function: chat.FunctionCall{Name: b.Name, Arguments: compactJSON(b.Input)}})
			}
		}
		am.ReasoningContent = strings.Join(thinking, "\n")
		msgs = append(msgs, am)
	}
	if n := len(msgs); n > 0 && msgs[n-1].Role == "assistant" && len(msgs[n-1].ToolCalls) == 0 && msgs[n-1].Content != "" {
		msgs[n-1].Prefix = true
	}
	return msgs
}

func hasBlock(bs []openai.AnthBlock, typ string) bool {
	for _, b := range bs {
		if b.Type == typ {
			return true
		}
	}
	return false
}

// compactJSON returns raw JSON without insignificant whitespace.
func compactJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// anthropicTools converts the tools and tool_choice (see openaiTools).
func anthropicTools(req *openai.MessagesRequest, msgs []chat.Message) ([]chat.Tool, []chat.Message) {
	if len(req.Tools) == 0 || (req.ToolChoice != nil && req.ToolChoice.Type == "none") {
		return nil, msgs
	}
	tools := make([]chat.Tool, len(req.Tools))
	for i, t := range req.Tools {
		tools[i] = chat.Tool{Type: "function", Function: chat.FunctionDef{Name: t.Name, Description: t.Description, Parameters: t.InputSchema}}
	}
	if c := req.ToolChoice; c != nil {
		switch c.Type {
		case "any":
			msgs = appendSystem(msgs, requiredInstruction)
		case "tool":
			msgs = appendSystem(msgs, namedInstruction+c.Name+".")
		}
	}
	return tools, msgs
}

// anthropicThinking maps the thinking switch.
func anthropicThinking(req *openai.MessagesRequest) *bool {
	if req.Thinking == nil {
		return nil
	}
	v := req.Thinking.Type == "enabled"
	return &v
}

// stopReason maps an engine stop reason to Anthropic's.
// anthCutError is the error a /v1/messages answer ends with when the
// server cut it short (shutdown, or no KV cache room left): Anthropic has no
// stop_reason for that, and "max_tokens" would make clients continue as if
// the budget had run out, so it is reported as overloaded_error (503), as
// its own API reports capacity problems. Nil for every other final event.
func anthCutError(ev engine.Event) *openai.Error {
	switch ev.Reason {
	case engine.StopPreempted, engine.StopCancelled, engine.StopRejected:
		return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeOverloaded,
			Message: fmt.Sprintf("the answer was cut short after %d tokens: the server is shutting down or out of KV cache room; retry", ev.Usage.CompletionTokens)}
	}
	return nil
}

func stopReason(ev engine.Event, hasCalls bool) (string, *string) {
	switch {
	case ev.Reason == engine.StopString:
		s := ev.StopString
		return openai.StopStopSequence, &s
	case ev.Reason == engine.StopLength || ev.Reason == engine.StopContext:
		return openai.StopMaxTokens, nil
	case hasCalls:
		return openai.StopToolUse, nil
	}
	return openai.StopEndTurn, nil
}

// anthUsage is the Anthropic usage of a request: input_tokens counts the
// prompt tokens not read from the prefix cache, cache_read_input_tokens
// those read from it (they add up to the prompt), output_tokens the
// generated ones.
func anthUsage(u engine.Usage) openai.AnthUsage {
	return openai.AnthUsage{InputTokens: u.PromptTokens - u.CachedTokens, OutputTokens: u.CompletionTokens, CacheReadInputTokens: u.CachedTokens}
}
