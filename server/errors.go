package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
	"github.com/dseek-ai/dseek/sampler"
)

// isAnthropic reports whether r is an Anthropic Messages request, whose
// errors take Anthropic's shape.
func isAnthropic(r *http.Request) bool { return strings.HasSuffix(r.URL.Path, "/messages") }

// writeError writes an API error in the shape of the route's API.
func writeError(w http.ResponseWriter, r *http.Request, e *openai.Error) {
	if e.Type == "" {
		e.Type = openai.TypeInvalidRequest
	}
	if e.Status == 0 {
		e.Status = http.StatusBadRequest
	}
	if e.Status == http.StatusTooManyRequests || e.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if isAnthropic(r) {
		writeJSON(w, e.Status, e.Anthropic())
		return
	}
	writeJSON(w, e.Status, openai.ErrorBody{Error: e})
}

// writeJSON writes v as the JSON response body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// errShuttingDown is the answer to a generation request the server no
// longer takes, or took but had not started when draining began.
func errShuttingDown() *openai.Error {
	return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeOverloaded, Code: "shutting_down", Message: "the server is shutting down"}
}

// submitError maps a Scheduler.Submit (or Check) error to an API error;
// param names the request field holding the prompt.
func submitError(err error, param string) *openai.Error {
	var tooLong *engine.PromptTooLongError
	var bad *engine.BadRequestError
	switch {
	case errors.As(err, &tooLong):
		return promptTooLong(param, tooLong.Tokens, tooLong.MaxSeqLen, false)
	case errors.As(err, &bad):
		if strings.HasPrefix(bad.Reason, "logit bias") {
			param = "logit_bias"
		}
		return openai.Invalid(param, "%s", bad.Reason)
	case errors.Is(err, engine.ErrPromptTooLong), errors.Is(err, engine.ErrBadRequest):
		return openai.Invalid(param, "%s", clientMessage(err))
	case errors.Is(err, engine.ErrQueueFull):
		return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "queue_full",
			Message: "the server is busy: every slot is running and the wait queue is full; retry later"}
	case errors.Is(err, engine.ErrClosed):
		return errShuttingDown()
	}
	return &openai.Error{Status: http.StatusInternalServerError, Type: openai.TypeServer, Message: clientMessage(err)}
}

// promptTooLong is the 400 for a prompt of n tokens (at least n, when
// atLeast) in a context of ctx tokens, which must also hold the completion.
func promptTooLong(param string, n, ctx int, atLeast bool) *openai.Error {
	is := "is"
	if atLeast {
		is = "is at least"
	}
	msg := fmt.Sprintf("the prompt %s %d tokens, longer than the context of %d tokens", is, n, ctx)
	if n == ctx {
		msg = fmt.Sprintf("the prompt %s %d tokens, the whole context of %d tokens, leaving no room for the completion", is, n, ctx)
	}
	return &openai.Error{Status: http.StatusBadRequest, Type: openai.TypeInvalidRequest, Param: param, Code: "context_length_exceeded", Message: msg}
}

// generationError is the 500 for a generation that failed (Event.Err of a
// StopError event), with a message for the client.
func generationError(err error) *openai.Error {
	msg := "generation failed: " + clientMessage(err)
	if errors.Is(err, sampler.ErrNoCandidates) {
		msg = "no finite logit to sample from: the model's output is NaN or -Inf (are its weights damaged?)"
	}
	return &openai.Error{Status: http.StatusInternalServerError, Type: openai.TypeServer, Message: msg}
}

// internalPackages are the package names that prefix Go error texts
// ("engine: sampling: sampler: ..."), which clients need not see.
var internalPackages = map[string]bool{
	"engine": true, "sampler": true, "model": true, "kernels": true, "kvcache": true,
	"tokenizer": true, "chat": true, "server": true, "gguf": true, "quant": true, "dtype": true,
}

// clientMessage is err's text without the package-name elements of the
// "pkg: context: detail" chain.
func clientMessage(err error) string {
	if err == nil {
		return "unknown error"
	}
	parts := strings.Split(err.Error(), ": ")
	keep := parts[:0]
	for _, p := range parts {
		if !internalPackages[p] {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return err.Error()
	}
	return strings.Join(keep, ": ")
}
