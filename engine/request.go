package engine

import (
	"errors"
	"fmt"

	"github.com/dseek-ai/dseek/sampler"
)

// Request is one generation submitted to a Scheduler.
type Request struct {
	// Prompt is the token ids to continue [n_prompt], BOS included when the
	// model wants one. It must be non-empty, hold only ids of the
	// vocabulary, and leave room for at least one generated token within
	// the Scheduler's MaxSeqLen.
	Prompt []int32
	// Sampling configures this request's own sampler (sampler.New). For the
	// presence and frequency penalties to act, RepeatLastN must be non-zero
	// (-1: every generated token).
	Sampling sampler.Params
	// MaxTokens bounds the generated tokens; <= 0 means until an
	// end-of-generation token or a full context.
	MaxTokens int
	// Stop ends generation when the generated text contains one of these
	// strings; the text from the stop string on is not emitted. Empty
	// strings are ignored.
	Stop []string
	// Special renders control tokens (e.g. <｜tool▁calls▁begin｜>) as their
	// text in Event.Text, as the chat output parser needs; otherwise they
	// render as nothing (tokenizer.Piece).
	Special bool
	// Logprobs reports, with every generated token, its log-probability
	// under the model's distribution (the raw logits, before penalties and
	// temperature) and the TopLogprobs most likely tokens (0 to 20).
	Logprobs    bool
	TopLogprobs int
	// Constraint, if set, restricts the tokens this request may sample
	// (e.g. to valid JSON). See Constraint.
	Constraint Constraint
}

// Constraint restricts which tokens a sequence may sample; the server's JSON
// mode implements it. The scheduler samples a token, asks Allow, and on a
// refusal masks the token and samples again (a few times, then it masks
// every refused token of the vocabulary at once), in the manner of
// llama.cpp's lazy grammar sampling. Calls come from the scheduler
// goroutine only.
type Constraint interface {
	// Allow reports whether token id, whose text is piece (control tokens
	// rendered as text; "" for an end-of-generation token, with eog true),
	// may come next.
	Allow(id int32, piece string, eog bool) bool
	// Accept records that id (with text piece) was generated.
	Accept(id int32, piece string)
	// Done reports that the constrained output is complete; generation then
	// ends with reason StopConstraint.
	Done() bool
}

// TokenInfo is one generated token.
type TokenInfo struct {
	// ID is the token id.
	ID int32
	// Logprob is ln p(ID) under softmax(logits); set when Request.Logprobs.
	Logprob float32
	// Top are the Request.TopLogprobs most likely tokens, most likely first.
	Top []sampler.TokenLogprob
}

// Usage counts the tokens of a finished request.
type Usage struct {
	// PromptTokens is len(Request.Prompt).
	PromptTokens int
	// CachedTokens is how many leading prompt tokens were served from the
	// prefix cache (not prefilled).
	CachedTokens int
	// CompletionTokens is how many tokens were sampled, including a final
	// end-of-generation token.
	CompletionTokens int
}

// Event is one step of a generation, received from Stream.Recv. A stream
// delivers zero or more token events and then exactly one event with Done
// set.
type Event struct {
	// Token is the token sampled at this step (nil on the final event).
	Token *TokenInfo
	// Text is generated text now released: decoded pieces, less what is
	// held back because it may be the start of a stop string or of a
	// multi-byte character. Concatenated over the stream it is the output.
	Text string
	// Done marks the final event; Reason, Usage and Err are set on it.
	Done bool
	// Reason is why generation ended: StopEOG, StopLength, StopContext
	// (MaxSeqLen reached), StopCancelled, StopString, StopConstraint,
	// StopPreempted, StopError, or StopRejected (ended in the wait queue,
	// without running, because Shutdown began).
	Reason string
	// StopString is the Request.Stop entry that matched (Reason StopString).
	StopString string
	// Usage counts the request's tokens (final event).
	Usage Usage
	// Err is set with Reason StopError (what failed) and StopRejected
	// (ErrClosed).
	Err error
}

// Further stop reasons besides those of Generate (StopEOG, StopLength,
// StopContext, StopCancelled).
const (
	StopString     = "stop_string" // a Request.Stop string was generated
	StopConstraint = "constraint"  // the Request.Constraint reported Done
	StopPreempted  = "preempted"   // ended early: the KV cache had no room for it
	StopError      = "error"       // sampling or the forward pass failed
	StopRejected   = "rejected"    // never ran: still queued when Shutdown began
)

// Scheduler errors returned by Submit.
var (
	// ErrQueueFull is returned when the wait queue is at its bound.
	ErrQueueFull = errors.New("engine: request queue is full")
	// ErrPromptTooLong is returned for a prompt that leaves no room for a
	// generated token within MaxSeqLen.
	ErrPromptTooLong = errors.New("engine: prompt is longer than the context")
	// ErrClosed is returned after Shutdown has begun.
	ErrClosed = errors.New("engine: scheduler is shut down")
	// ErrBadRequest is returned for an empty prompt or a token id outside
	// the vocabulary.
	ErrBadRequest = errors.New("engine: bad request")
)

// PromptTooLongError is the error Submit returns for a prompt that leaves
// no room for a generated token; errors.Is(err, ErrPromptTooLong) holds.
type PromptTooLongError struct {
	// Tokens is the prompt length; MaxSeqLen the most tokens a request may
	// hold (prompt and completion).
	Tokens, MaxSeqLen int
}

// Error describes the prompt and the context.
func (e *PromptTooLongError) Error() string {
	return fmt.Sprintf("%v: the prompt has %d tokens and the context holds %d (prompt and completion)", ErrPromptTooLong, e.Tokens, e.MaxSeqLen)
}

// Unwrap returns ErrPromptTooLong.
func (e *PromptTooLongError) Unwrap() error { return ErrPromptTooLong }

// BadRequestError is the error Submit returns for a malformed request;
// errors.Is(err, ErrBadRequest) holds.
type BadRequestError struct {
	// Reason says what is wrong, without a package prefix (e.g. "token id
	// 7 at prompt index 2 is outside the vocabulary [0, 5)").
	Reason string
}

// Error is "engine: bad request: " and the reason.
func (e *BadRequestError) Error() string { return ErrBadRequest.Error() + ": " + e.Reason }

// Unwrap returns ErrBadRequest.
func (e *BadRequestError) Unwrap() error { return ErrBadRequest }
