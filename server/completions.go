package server

import (
	"net/http"
	"time"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
	"github.com/dseek-ai/dseek/tokenizer"
)

// FIM token texts of DeepSeek-Coder and DeepSeek-V2/V3 vocabularies
// (prefix-suffix-middle order: begin, prefix, hole, suffix, end).
const (
	fimBegin = "<｜fim▁begin｜>"
	fimHole  = "<｜fim▁hole｜>"
	fimEnd   = "<｜fim▁end｜>"
)

// handleCompletions serves POST /v1/completions: raw text completion, and
// fill-in-the-middle when suffix is given. With echo the prompt text comes
// first (a token-id prompt is detokenized); max_tokens 0 with echo returns
// the prompt alone without generating.
func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	body, apiErr := s.readBody(w, r)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	req, apiErr := openai.ParseCompletionRequest(body)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	if apiErr := s.checkBias(req.LogitBias); apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	prompt, apiErr := s.completionPrompt(req)
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	maxTokens := openai.DefaultCompletionMaxTokens
	if req.MaxTokens != nil {
		maxTokens = *req.MaxTokens
	}
	ereq := engine.Request{
		Prompt:    prompt,
		Sampling:  samplingParams(req.Temperature, req.TopP, req.PresencePenalty, req.FrequencyPenalty, nil, req.Seed, req.LogitBias),
		MaxTokens: maxTokens, Stop: req.Stop, Special: true,
	}
	if req.Logprobs != nil {
		ereq.Logprobs, ereq.TopLogprobs = true, *req.Logprobs
	}
	c := &completionJob{s: s, req: req, id: newID("cmpl-"), created: time.Now().Unix()}
	if req.Echo {
		c.echo = s.echoText(req)
	}
	if maxTokens == 0 { // Validate allows 0 only with echo
		c.echoOnly(w, r, ereq)
		return
	}
	c.gen, apiErr = s.submit(r.Context(), ereq, "completions", "prompt")
	if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	if _, apiErr, err := c.gen.started(r.Context()); err != nil {
		return // the client is gone
	} else if apiErr != nil {
		writeError(w, r, apiErr)
		return
	}
	if req.Stream {
		c.stream(w, r)
	} else {
		c.complete(w, r)
	}
}

// echoOnly answers max_tokens 0 with echo: the prompt alone, finish
// reason "length", nothing generated. The prompt is checked as Submit
// would.
func (c *completionJob) echoOnly(w http.ResponseWriter, r *http.Request, ereq engine.Request) {
	if e := c.s.checkServing(); e != nil {
		writeError(w, r, e)
		return
	}
	if err := c.s.sched.Check(ereq); err != nil {
		writeError(w, r, submitError(err, "prompt"))
		return
	}
	final := engine.Event{Done: true, Reason: engine.StopLength, Usage: engine.Usage{PromptTokens: len(ereq.Prompt)}}
	if !c.req.Stream {
		reason := finishReason(final, false)
		writeJSON(w, http.StatusOK, c.response(c.echo, &reason, usageOf(final, 0)))
		return
	}
	sse := newSSE(w)
	if c.echo != "" && sse.data(c.response(c.echo, nil, nil)) != nil {
		return
	}
	c.end(sse, final)
}

// echoText is the prompt as echo returns it: the text as given, or the
// token ids detokenized (control tokens as their text, as the output
// renders them).
func (s *Server) echoText(req *openai.CompletionRequest) string {
	if req.Prompt.Tokens == nil {
		return req.Prompt.Text
	}
	return string(s.e.Tokenizer.Decode(req.Prompt.Tokens, true))
}

// completionPrompt tokenizes the prompt: token ids as given; text with
// special-token parsing and BOS as the vocabulary wants (not doubled); with
// a suffix, the FIM layout begin + prefix + hole + suffix + end.
func (s *Server) completionPrompt(req *openai.CompletionRequest) ([]int32, *openai.Error) {
	tok := s.e.Tokenizer
	if req.Prompt.Tokens != nil {
		return req.Prompt.Tokens, nil
	}
	text := req.Prompt.Text
	n := len(text)
	if req.Suffix != nil {
		n += len(*req.Suffix)
	}
	if e := s.checkPromptBytes(n, "prompt"); e != nil {
		return nil, e
	}
	if req.Suffix == nil {
		ids := tok.Encode(text, !chat.StartsWithBOS(text, s.bos), true)
		if len(ids) == 0 {
			return nil, openai.Invalid("prompt", "is empty")
		}
		return ids, nil
	}
	begin, hole, end, ok := fimTokens(tok)
	if !ok {
		return nil, openai.Invalid("suffix", "this model's vocabulary has no fill-in-the-middle tokens (%s, %s, %s)", fimBegin, fimHole, fimEnd)
	}
	var ids []int32
	if tok.AddBOS() && tok.BOS() >= 0 {
		ids = append(ids, tok.BOS())
	}
	ids = append(ids, begin)
	ids = append(ids, tok.Encode(text, false, false)...)
	ids = append(ids, hole)
	ids = append(ids, tok.Encode(*req.Suffix, false, false)...)
	return append(ids, end), nil
}

// fimTokens finds the FIM ids: the GGUF fim_pre/fim_suf/fim_mid ids when
// set, else the DeepSeek token texts.
func fimTokens(tok *tokenizer.Tokenizer) (begin, hole, end int32, ok bool) {
	begin, hole, end = tok.SpecialID(tokenizer.SpecialFIMPre), tok.SpecialID(tokenizer.SpecialFIMSuf), tok.SpecialID(tokenizer.SpecialFIMMid)
	if begin >= 0 && hole >= 0 && end >= 0 {
		return begin, hole, end, true
	}
	var ok1, ok2, ok3 bool
	begin, ok1 = tok.TokenID(fimBegin)
	hole, ok2 = tok.TokenID(fimHole)
	end, ok3 = tok.TokenID(fimEnd)
	return begin, hole, end, ok1 && ok2 && ok3
}

// completionJob is one /v1/completions request in flight.
type completionJob struct {
	s       *Server
	req     *openai.CompletionRequest
	gen     *generation
	id      string
	created int64
	echo    string // prompt text to put before the output
	lp      *openai.CompletionLogprobs
	offset  int // text offset of the next token
}

// logprob records a generated token in the legacy logprobs.
func (c *completionJob) logprob(t *engine.TokenInfo) {
	if c.req.Logprobs == nil || t == nil || c.s.e.Tokenizer.IsEOG(t.ID) {
		return
	}
	if c.lp == nil {
		c.lp = &openai.CompletionLogprobs{Tokens: []string{}, TokenLogprobs: []float64{}, TopLogprobs: []map[string]float64{}, TextOffset: []int{}}
	}
	tok := c.s.e.Tokenizer
	piece := string(tok.Piece(t.ID, true))
	top := map[string]float64{}
	for _, a := range t.Top {
		top[string(tok.Piece(a.ID, true))] = float64(a.Logprob)
	}
	c.lp.Tokens = append(c.lp.Tokens, piece)
	c.lp.TokenLogprobs = append(c.lp.TokenLogprobs, float64(t.Logprob))
	c.lp.TopLogprobs = append(c.lp.TopLogprobs, top)
	c.lp.TextOffset = append(c.lp.TextOffset, c.offset)
	c.offset += len(piece)
}

// response builds a completion object with one choice.
func (c *completionJob) response(text string, finish *string, usage *openai.Usage) openai.Completion {
	return openai.Completion{
		ID: c.id, Object: "text_completion", Created: c.created, Model: c.s.opt.ModelName, SystemFingerprint: systemFingerprint,
		Choices: []openai.CompletionChoice{{Text: text, Logprobs: c.lp, FinishReason: finish}}, Usage: usage,
	}
}

// complete writes the whole completion at once.
func (c *completionJob) complete(w http.ResponseWriter, r *http.Request) {
	text := c.echo
	c.offset = len(c.echo)
	final, err := c.gen.drain(r.Context(), func(ev engine.Event) error {
		c.logprob(ev.Token)
		text += ev.Text
		return nil
	})
	if err != nil {
		return
	}
	if final.Reason == engine.StopError {
		writeError(w, r, generationError(final.Err))
		return
	}
	reason := finishReason(final, false)
	writeJSON(w, http.StatusOK, c.response(text, &reason, usageOf(final, 0)))
}

// stream writes the completion as text_completion chunks.
func (c *completionJob) stream(w http.ResponseWriter, r *http.Request) {
	sse := newSSE(w)
	if c.echo != "" {
		if sse.data(c.response(c.echo, nil, nil)) != nil {
			return
		}
		c.offset = len(c.echo)
	}
	final, err := c.gen.drain(r.Context(), func(ev engine.Event) error {
		c.lp = nil
		c.logprob(ev.Token)
		if ev.Text == "" && c.lp == nil {
			return nil
		}
		return sse.data(c.response(ev.Text, nil, nil))
	})
	if err != nil {
		return
	}
	c.end(sse, final)
}

// end writes the last chunks of a streamed completion: the finish reason
// (or the error), the usage when asked for, and [DONE].
func (c *completionJob) end(sse *sse, final engine.Event) {
	c.lp = nil
	if final.Reason == engine.StopError {
		sse.data(openai.ErrorBody{Error: generationError(final.Err)})
		sse.done()
		return
	}
	reason := finishReason(final, false)
	if sse.data(c.response("", &reason, nil)) != nil {
		return
	}
	if so := c.req.StreamOptions; so != nil && so.IncludeUsage {
		u := c.response("", nil, usageOf(final, 0))
		u.Choices = []openai.CompletionChoice{}
		if sse.data(u) != nil {
			return
		}
	}
	sse.done()
}
