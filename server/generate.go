package server

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
	"github.com/dseek-ai/dseek/sampler"
)

// generation is one request running in the scheduler, read by a handler.
// It records the latency metrics as events arrive.
type generation struct {
	s        *Server
	stream   *engine.Stream
	start    time.Time
	last     time.Time // time of the previous token event
	tokens   int       // token events so far
	endpoint string
}

// submit queues req; param names the request field that holds the prompt
// for errors about it. The request is cancelled when ctx ends.
func (s *Server) submit(ctx context.Context, req engine.Request, endpoint, param string) (*generation, *openai.Error) {
	if e := s.checkServing(); e != nil {
		return nil, e
	}
	st, err := s.sched.Submit(ctx, req)
	if err != nil {
		return nil, submitError(err, param)
	}
	return &generation{s: s, stream: st, start: time.Now(), endpoint: endpoint}, nil
}

// started waits until the request leaves the wait queue, before the
// handler commits to a 200 response, and returns its prompt usage then
// (prompt and cached tokens). A request ended while still queued (the
// server began draining) gives the 503 to answer with instead; err is the
// context's error when the client has gone.
func (g *generation) started(ctx context.Context) (engine.Usage, *openai.Error, error) {
	u, ran, err := g.stream.Started(ctx)
	if err != nil {
		return u, nil, err
	}
	if ran {
		return u, nil, nil
	}
	g.next(ctx) // the final event, for the metrics
	if err := ctx.Err(); err != nil {
		return u, nil, err
	}
	return u, errShuttingDown(), nil
}

// next returns the next event, or io.EOF after the final one, or the
// context's error when the client has gone.
func (g *generation) next(ctx context.Context) (engine.Event, error) {
	ev, err := g.stream.Recv(ctx)
	if err != nil {
		return ev, err
	}
	now := time.Now()
	if ev.Token != nil {
		if g.tokens == 0 {
			g.s.metrics.ttft.Observe(now.Sub(g.start).Seconds())
		} else {
			g.s.metrics.itl.Observe(now.Sub(g.last).Seconds())
		}
		g.tokens++
		g.last = now
	}
	if ev.Done {
		g.s.metrics.duration.WithLabelValues(g.endpoint).Observe(now.Sub(g.start).Seconds())
		if ev.Reason == engine.StopError {
			g.s.log.Warn("generation failed", "endpoint", g.endpoint, "err", ev.Err)
		}
	}
	return ev, nil
}

// drain reads events until the final one and returns it, calling each for
// every event (final included). It stops early with the context's error.
func (g *generation) drain(ctx context.Context, each func(engine.Event) error) (engine.Event, error) {
	for {
		ev, err := g.next(ctx)
		if err == io.EOF {
			return ev, nil
		}
		if err != nil {
			return ev, err
		}
		if err := each(ev); err != nil {
			return ev, err
		}
		if ev.Done {
			return ev, nil
		}
	}
}

// chatOutput turns generated text into reasoning, content and tool calls
// with the chat family's parser, and keeps the totals.
type chatOutput struct {
	parser          *chat.Parser
	content         strings.Builder
	reasoning       strings.Builder
	calls           []openai.ToolCall
	reasoningTokens int    // tokens generated while reasoning (</think> included)
	inReasoning     bool   // the output is inside the think block
	idPrefix        string // "call_" (OpenAI) or "toolu_" (Anthropic)
}

// newChatOutput returns the output parser for prompt p.
func (s *Server) newChatOutput(p *chatPrompt, idPrefix string) (*chatOutput, *openai.Error) {
	opts := chat.ParserOptions{StartInReasoning: p.reasoning, ToolsEnabled: p.tools, TrimSpace: !p.prefix}
	parser, err := chat.NewParser(s.format, opts)
	if err != nil {
		// A family without its own parser (DeepSeek-V3.2's DSML tool calls):
		// split <think> blocks with the V3 grammar, leave calls as content.
		opts.ToolsEnabled = false
		parser, err = chat.NewParser(chat.FormatDeepSeekV3, opts)
	}
	if err != nil {
		return nil, &openai.Error{Status: 500, Type: openai.TypeServer, Message: clientMessage(err)}
	}
	return &chatOutput{parser: parser, idPrefix: idPrefix, inReasoning: p.reasoning}, nil
}

// add parses the text of one event; token tells whether the event carried
// a token (counted as a reasoning token while the output is reasoning).
func (o *chatOutput) add(text string, final, token bool) (chat.Delta, []openai.ToolCall) {
	d, _ := o.parser.Add(text)
	if final {
		f, _ := o.parser.Finish()
		d.Content += f.Content
		d.Reasoning += f.Reasoning
		d.ToolCalls = append(d.ToolCalls, f.ToolCalls...)
	}
	switch {
	case d.Content != "" || len(d.ToolCalls) > 0:
		o.inReasoning = false
	case d.Reasoning != "":
		o.inReasoning = true
	}
	if token && o.inReasoning {
		o.reasoningTokens++
	}
	o.content.WriteString(d.Content)
	o.reasoning.WriteString(d.Reasoning)
	var calls []openai.ToolCall
	for _, c := range d.ToolCalls {
		calls = append(calls, openai.ToolCall{ID: newID(o.idPrefix), Type: "function",
			Function: openai.FunctionCall{Name: c.Function.Name, Arguments: openai.JSONText(c.Function.Arguments)}})
	}
	o.calls = append(o.calls, calls...)
	return d, calls
}

// finishReason maps an engine stop reason to the OpenAI finish_reason.
// A request cut short by the server (preempted for KV room, or cancelled at
// shutdown) reports DeepSeek's "insufficient_system_resource".
func finishReason(ev engine.Event, hasCalls bool) string {
	switch ev.Reason {
	case engine.StopLength, engine.StopContext:
		return openai.FinishLength
	case engine.StopPreempted, engine.StopCancelled, engine.StopRejected:
		return openai.FinishInsufficientResources
	}
	if hasCalls {
		return openai.FinishToolCalls
	}
	return openai.FinishStop
}

// tokenLogprob describes a generated token for the chat logprobs.
func (s *Server) tokenLogprob(t *engine.TokenInfo) openai.TokenLogprob {
	piece := s.e.Tokenizer.Piece(t.ID, true)
	lp := openai.TokenLogprob{Token: string(piece), Logprob: float64(t.Logprob), Bytes: byteInts(piece), TopLogprobs: []openai.TopLogprob{}}
	for _, c := range t.Top {
		lp.TopLogprobs = append(lp.TopLogprobs, s.topLogprob(c))
	}
	return lp
}

// topLogprob describes one alternative token.
func (s *Server) topLogprob(c sampler.TokenLogprob) openai.TopLogprob {
	p := s.e.Tokenizer.Piece(c.ID, true)
	return openai.TopLogprob{Token: string(p), Logprob: float64(c.Logprob), Bytes: byteInts(p)}
}

// byteInts lists the bytes of b as ints (the logprobs bytes field).
func byteInts(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)
	}
	return out
}

// usageOf builds the OpenAI/DeepSeek usage of a finished request.
func usageOf(ev engine.Event, reasoningTokens int) *openai.Usage {
	u := ev.Usage
	return openai.NewUsage(u.PromptTokens, u.CachedTokens, u.CompletionTokens, reasoningTokens)
}
