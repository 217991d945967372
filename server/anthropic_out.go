package server

import (
	"encoding/json"
	"net/http"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
)

// messagesJob is one Anthropic Messages request in flight.
type messagesJob struct {
	s        *Server
	gen      *generation
	out      *chatOutput
	id       string
	admitted engine.Usage // prompt and cached tokens, known at admission
}

// message is the response envelope with the given content.
func (j *messagesJob) message(content []any, u openai.AnthUsage) openai.MessagesResponse {
	return openai.MessagesResponse{ID: j.id, Type: "message", Role: "assistant", Model: j.s.opt.ModelName, Content: content, Usage: u}
}

// complete writes the whole message at once: a thinking block, a text
// block and tool_use blocks, in that order, each when present.
func (j *messagesJob) complete(w http.ResponseWriter, r *http.Request) {
	final, err := j.gen.drain(r.Context(), func(ev engine.Event) error {
		j.out.add(ev.Text, ev.Done, ev.Token != nil)
		return nil
	})
	if err != nil {
		return
	}
	if final.Reason == engine.StopError {
		writeError(w, r, generationError(final.Err))
		return
	}
	if e := anthCutError(final); e != nil {
		writeError(w, r, e)
		return
	}
	content := []any{}
	if rc := j.out.reasoning.String(); rc != "" {
		content = append(content, &openai.ThinkingBlock{Type: "thinking", Thinking: rc})
	}
	if c := j.out.content.String(); c != "" || (len(j.out.calls) == 0 && len(content) == 0) {
		content = append(content, &openai.TextBlock{Type: "text", Text: c})
	}
	for _, c := range j.out.calls {
		content = append(content, toolUse(c))
	}
	m := j.message(content, anthUsage(final.Usage))
	reason, seq := stopReason(final, len(j.out.calls) > 0)
	m.StopReason, m.StopSequence = &reason, seq
	writeJSON(w, http.StatusOK, m)
}

// toolUse converts a parsed call to a tool_use block.
func toolUse(c openai.ToolCall) *openai.ToolUseBlock {
	input := json.RawMessage(c.Function.Arguments)
	if !json.Valid(input) {
		input = json.RawMessage("{}")
	}
	return &openai.ToolUseBlock{Type: "tool_use", ID: c.ID, Name: c.Function.Name, Input: input}
}

// anthStream tracks the open content block of a streamed message.
type anthStream struct {
	sse   *sse
	index int    // index of the open block, or of the next one
	open  string // type of the open block, "" if none
}

// ensure opens a block of type typ (closing another open one).
func (a *anthStream) ensure(typ string) error {
	if a.open == typ {
		return nil
	}
	if err := a.close(); err != nil {
		return err
	}
	var block any = &openai.TextBlock{Type: "text"}
	if typ == "thinking" {
		block = &openai.ThinkingBlock{Type: "thinking"}
	}
	a.open = typ
	return a.sse.event("content_block_start", openai.BlockStart{Type: "content_block_start", Index: a.index, ContentBlock: block})
}

// close closes the open block, if any.
func (a *anthStream) close() error {
	if a.open == "" {
		return nil
	}
	a.open = ""
	a.index++
	return a.sse.event("content_block_stop", openai.BlockStop{Type: "content_block_stop", Index: a.index - 1})
}

// delta sends a content_block_delta to the open block.
func (a *anthStream) delta(d map[string]any) error {
	return a.sse.event("content_block_delta", openai.BlockDelta{Type: "content_block_delta", Index: a.index, Delta: d})
}

// toolUse sends a whole tool_use block.
func (a *anthStream) toolUse(c openai.ToolCall) error {
	if err := a.close(); err != nil {
		return err
	}
	b := toolUse(c)
	start := &openai.ToolUseBlock{Type: "tool_use", ID: b.ID, Name: b.Name, Input: json.RawMessage("{}")}
	if err := a.sse.event("content_block_start", openai.BlockStart{Type: "content_block_start", Index: a.index, ContentBlock: start}); err != nil {
		return err
	}
	if err := a.delta(map[string]any{"type": "input_json_delta", "partial_json": string(b.Input)}); err != nil {
		return err
	}
	a.open = "tool_use"
	return a.close()
}

// write sends one parsed delta.
func (a *anthStream) write(reasoning, content string, calls []openai.ToolCall) error {
	if reasoning != "" {
		if err := a.ensure("thinking"); err != nil {
			return err
		}
		if err := a.delta(map[string]any{"type": "thinking_delta", "thinking": reasoning}); err != nil {
			return err
		}
	}
	if content != "" {
		if err := a.ensure("text"); err != nil {
			return err
		}
		if err := a.delta(map[string]any{"type": "text_delta", "text": content}); err != nil {
			return err
		}
	}
	for _, c := range calls {
		if err := a.toolUse(c); err != nil {
			return err
		}
	}
	return nil
}

// stream writes the message as Anthropic stream events: message_start,
// content blocks (start, deltas, stop), message_delta with the stop reason
// and usage, message_stop.
func (j *messagesJob) stream(w http.ResponseWriter, r *http.Request) {
	a := &anthStream{sse: newSSE(w)}
	// The prompt's split between cache reads and new input is known from
	// admission on, so message_start reports what message_delta will.
	start := j.message([]any{}, anthUsage(j.admitted))
	if a.sse.event("message_start", openai.MessageStart{Type: "message_start", Message: start}) != nil {
		return
	}
	final, err := j.gen.drain(r.Context(), func(ev engine.Event) error {
		d, calls := j.out.add(ev.Text, ev.Done, ev.Token != nil)
		return a.write(d.Reasoning, d.Content, calls)
	})
	if err != nil {
		return
	}
	if final.Reason == engine.StopError {
		a.sse.event("error", generationError(final.Err).Anthropic())
		return
	}
	if e := anthCutError(final); e != nil {
		a.sse.event("error", e.Anthropic())
		return
	}
	if a.close() != nil {
		return
	}
	reason, seq := stopReason(final, len(j.out.calls) > 0)
	u := anthUsage(final.Usage)
	md := openai.MessageDelta{Type: "message_delta", Delta: openai.MessageDeltaBody{StopReason: &reason, StopSequence: seq},
		Usage: openai.MessageDeltaUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens}}
	if a.sse.event("message_delta", md) != nil {
		return
	}
	a.sse.event("message_stop", openai.MessageStop{Type: "message_stop"})
}
