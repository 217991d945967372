package server

import (
	"net/http"
	"sync/atomic"

	"github.com/dseek-ai/dseek/openai"
)

// Gate answers for a server that is still loading its model, so the HTTP
// listener can start first: /health is 200 (the process is alive), /ready
// and every other route 503, until Set installs the real handler.
type Gate struct {
	h atomic.Pointer[http.Handler]
}

// Set installs the handler that serves every request from now on.
func (g *Gate) Set(h http.Handler) { g.h.Store(&h) }

// ServeHTTP implements http.Handler.
func (g *Gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := g.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/health", "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "loading"})
	case "/ready", "/readyz":
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "loading"})
	default:
		writeError(w, r, &openai.Error{Status: http.StatusServiceUnavailable, Type: openai.TypeOverloaded, Code: "loading", Message: "the model is still loading"})
	}
}
