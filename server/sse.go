package server

import (
	"encoding/json"
	"net/http"
)

// sse writes server-sent events (text/event-stream), flushing each one.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// newSSE sends the event-stream headers.
func newSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

// data writes "data: JSON" and flushes; an error means the client is gone.
func (s *sse) data(v any) error { return s.event("", v) }

// event writes an event with an optional name ("event: NAME", as
// Anthropic's stream uses) and JSON data.
func (s *sse) event(name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(b)+len(name)+16)
	if name != "" {
		buf = append(append(append(buf, "event: "...), name...), '\n')
	}
	buf = append(append(append(buf, "data: "...), b...), "\n\n"...)
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// done writes OpenAI's end-of-stream marker.
func (s *sse) done() {
	s.w.Write([]byte("data: [DONE]\n\n"))
	s.rc.Flush()
}
