package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
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

// submitError maps a Scheduler.Submit error to an API error; param names
// the request field holding the prompt.
func submitError(err error, param string) *openai.Error {
	switch {
	case errors.Is(err, engine.ErrPromptTooLong):
		e := openai.Invalid(param, "%v", err)
		e.Code = "context_length_exceeded"
		return e
	case errors.Is(err, engine.ErrBadRequest):
		return openai.Invalid(param, "%v", err)
	case errors.Is(err, engine.ErrQueueFull):
		return &openai.Error{Status: http.StatusTooManyRequests, Type: openai.TypeRateLimit, Code: "queue_full",
			Message: "the server is busy: every slot is running and the wait queue is full; retry later"}
	case errors.Is(err, engine.ErrClosed):
		return &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeOverloaded, Code: "shutting_down", Message: "the server is shutting down"}
	}
	return &openai.Error{Status: http.StatusInternalServerError, Type: openai.TypeServer, Message: err.Error()}
}
