package server

import (
	"net/http"
	"time"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
)

// chatJob is a parsed chat request with its prompt and generation.
type chatJob struct {
	req    *openai.ChatRequest
	prompt *chatPrompt
	gen    *generation
	out    *chatOutput
	id     string
	model  string
}

// handleChat serves POST /v1/chat/completions.
func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	body, apiErr := s.readBody(w, r)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	req, apiErr := openai.ParseChatRequest(body)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	job, apiErr := s.startChat(r, req)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	if _, apiErr, err := job.gen.started(r.Context()); err != nil {
		return // the client is gone; the request was cancelled with its context
	} else if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	if req.Stream {
		s.streamChat(w, r, job)
	} else {
		s.completeChat(w, r, job)
	}
}

// startChat renders the conversation and submits the generation.
func (s *Server) startChat(r *http.Request, req *openai.ChatRequest) (*chatJob, *openai.Error) {
	msgs := openaiMessages(req)
	tools, msgs := openaiTools(req, msgs)
	jsonMode := req.ResponseFormat != nil && req.ResponseFormat.Type == "json_object"
	if jsonMode && !mentionsJSON(msgs) {
		msgs = appendSystem(msgs, jsonInstruction)
	}
	if apiErr := s.checkBias(req.LogitBias); apiErr != nil {
		return nil, apiErr
	}
	p, apiErr := s.renderChat(msgs, tools, req.ThinkingSwitch())
	if apiErr != nil {
		return nil, apiErr
	}
	out, apiErr := s.newChatOutput(p, "call_")
	if apiErr != nil {
		return nil, apiErr
	}
	ereq := engine.Request{
		Prompt:    p.tokens,
		Sampling:  samplingParams(req.Temperature, req.TopP, req.PresencePenalty, req.FrequencyPenalty, nil, req.Seed, req.LogitBias),
		MaxTokens: req.MaxOutputTokens(), Stop: req.Stop, Special: true,
		Logprobs: req.Logprobs,
	}
	if req.TopLogprobs != nil {
		ereq.TopLogprobs = *req.TopLogprobs
	}
	if jsonMode {
		ereq.Constraint = newJSONConstraint(p.reasoning)
	}
	gen, apiErr := s.submit(r.Context(), ereq, "chat", "messages")
	if apiErr != nil {
		return nil, apiErr
	}
	return &chatJob{req: req, prompt: p, gen: gen, out: out, id: newID("chatcmpl-"), model: s.opt.ModelName}, nil
}

// completeChat collects the whole answer and writes one response.
func (s *Server) completeChat(w http.ResponseWriter, r *http.Request, job *chatJob) {
	var lps []openai.TokenLogprob
	final, err := job.gen.drain(r.Context(), func(ev engine.Event) error {
		if t := ev.Token; t != nil && job.req.Logprobs && !s.e.Tokenizer.IsEOG(t.ID) {
			lps = append(lps, s.tokenLogprob(t))
		}
		job.out.add(ev.Text, ev.Done, ev.Token != nil)
		return nil
	})
	if err != nil {
		return // the client is gone; the request was cancelled with its context
	}
	if final.Reason == engine.StopError {
		writeError(w, r, generationError(final.Err))
		return
	}
	o := job.out
	msg := openai.ResponseMessage{Role: "assistant", ToolCalls: o.calls}
	if c := o.content.String(); c != "" || len(o.calls) == 0 {
		msg.Content = &c
	}
	if rc := o.reasoning.String(); rc != "" || job.prompt.reasoning {
		msg.ReasoningContent = &rc
	}
	choice := openai.ChatChoice{Message: msg, FinishReason: finishReason(final, len(o.calls) > 0)}
	if job.req.Logprobs {
		choice.Logprobs = &openai.Logprobs{Content: lps}
	}
	writeJSON(w, http.StatusOK, openai.ChatCompletion{
		ID: job.id, Object: "chat.completion", Created: time.Now().Unix(), Model: job.model,
		SystemFingerprint: systemFingerprint, Choices: []openai.ChatChoice{choice},
		Usage: usageOf(final, o.reasoningTokens),
	})
}

// systemFingerprint identifies the serving configuration in responses.
const systemFingerprint = "fp_dseek"

// streamChat writes the answer as chat.completion.chunk events.
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, job *chatJob) {
	sse := newSSE(w)
	created := time.Now().Unix()
	chunk := func(d openai.Delta, lps []openai.TokenLogprob, finish *string) openai.ChatChunk {
		c := openai.ChatChunk{ID: job.id, Object: "chat.completion.chunk", Created: created, Model: job.model, SystemFingerprint: systemFingerprint,
			Choices: []openai.ChunkChoice{{Delta: d, FinishReason: finish}}}
		if lps != nil {
			c.Choices[0].Logprobs = &openai.Logprobs{Content: lps}
		}
		return c
	}
	empty := ""
	if sse.data(chunk(openai.Delta{Role: "assistant", Content: &empty}, nil, nil)) != nil {
		return
	}
	var pending []openai.TokenLogprob
	final, err := job.gen.drain(r.Context(), func(ev engine.Event) error {
		if t := ev.Token; t != nil && job.req.Logprobs && !s.e.Tokenizer.IsEOG(t.ID) {
			pending = append(pending, s.tokenLogprob(t))
		}
		d, calls := job.out.add(ev.Text, ev.Done, ev.Token != nil)
		var chunks []openai.ChatChunk
		if d.Reasoning != "" {
			chunks = append(chunks, chunk(openai.Delta{ReasoningContent: &d.Reasoning}, nil, nil))
		}
		if d.Content != "" {
			chunks = append(chunks, chunk(openai.Delta{Content: &d.Content}, nil, nil))
		}
		for k, c := range calls {
			i := len(job.out.calls) - len(calls) + k
			chunks = append(chunks, chunk(openai.Delta{ToolCalls: []openai.ToolCallDelta{{Index: i, ID: c.ID, Type: c.Type, Function: c.Function}}}, nil, nil))
		}
		if len(chunks) > 0 && pending != nil {
			chunks[0].Choices[0].Logprobs = &openai.Logprobs{Content: pending}
			pending = nil
		}
		for _, c := range chunks {
			if err := sse.data(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return
	}
	if final.Reason == engine.StopError {
		sse.data(openai.ErrorBody{Error: generationError(final.Err)})
		sse.done()
		return
	}
	reason := finishReason(final, len(job.out.calls) > 0)
	if sse.data(chunk(openai.Delta{}, pending, &reason)) != nil {
		return
	}
	if so := job.req.StreamOptions; so != nil && so.IncludeUsage {
		u := openai.ChatChunk{ID: job.id, Object: "chat.completion.chunk", Created: created, Model: job.model,
			SystemFingerprint: systemFingerprint, Choices: []openai.ChunkChoice{}, Usage: usageOf(final, job.out.reasoningTokens)}
		if sse.data(u) != nil {
			return
		}
	}
	sse.done()
}
