// Package server is dseek's HTTP API: OpenAI- and DeepSeek-compatible chat
// completions and completions, the models list, Anthropic Messages, health
// and readiness probes and Prometheus metrics, over an engine.Scheduler
// (continuous batching, prefix cache).
//
// Routes (DeepSeek's and Anthropic's base-URL spellings are aliases):
//
//	POST /v1/chat/completions   (also /chat/completions, /beta/chat/completions)
//	POST /v1/completions        (also /completions, /beta/completions; suffix = FIM)
//	GET  /v1/models, /v1/models/{id}   (also /models)
//	POST /v1/messages           (also /anthropic/v1/messages)
//	GET  /health, /healthz      liveness: 200 while the process serves HTTP
//	GET  /ready, /readyz        readiness: 200 when the model is loaded and not draining
//	GET  /metrics               Prometheus text format
//
// Responses stream as server-sent events when the request asks to. A client
// that disconnects cancels its request, which frees its slot and KV cache at
// the next scheduler step.
package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/openai"
)

// Options configure a Server.
type Options struct {
	// ModelName is the model id /v1/models reports and responses carry;
	// "" means the GGUF file name without ".gguf". Requests may name any
	// model: one process serves one model.
	ModelName string
	// APIKey, if set, is required on every API route as "Authorization:
	// Bearer KEY" or "x-api-key: KEY" (Anthropic's header). The probes and
	// /metrics stay open.
	APIKey string
	// MaxBodyBytes bounds request bodies; 0 means 16 MiB.
	MaxBodyBytes int64
	// BodyTimeout bounds the time to receive a request body once its
	// handler starts reading it (a client trickling bytes would otherwise
	// hold the connection forever; the headers are bounded by the
	// http.Server's ReadHeaderTimeout). 0 means 60 s. The deadline is
	// lifted once the body is read, so it never cuts a long generation.
	BodyTimeout time.Duration
	// Template overrides the chat renderer with a built-in family name
	// (chat.Builtin); "" uses the model's own template (chat.ForModel).
	Template string
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
}

// Server serves the API for one engine and its scheduler. Create it with
// New; it is an http.Handler.
type Server struct {
	e     *engine.Engine
	sched *engine.Scheduler
	opt   Options
	log   *slog.Logger
	mux   *http.ServeMux

	renderer chat.Renderer
	format   string // chat family (chat.Detect), selects the output parser
	bos, eos string

	metrics  *metrics
	registry *prometheus.Registry
	created  time.Time
	draining atomic.Bool
}

// New builds the server. It returns an error when the model has no usable
// chat template (neither its own nor a built-in one).
func New(e *engine.Engine, sched *engine.Scheduler, opt Options) (*Server, error) {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 16 << 20
	}
	if opt.BodyTimeout <= 0 {
		opt.BodyTimeout = 60 * time.Second
	}
	if opt.ModelName == "" {
		opt.ModelName = strings.TrimSuffix(filepath.Base(e.File.Path), ".gguf")
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{e: e, sched: sched, opt: opt, log: log, created: time.Now()}
	if err := s.setupChat(); err != nil {
		return nil, err
	}
	s.registry = prometheus.NewRegistry()
	s.metrics = newMetrics(s.registry, sched)
	s.routes()
	return s, nil
}

// setupChat picks the chat renderer and the special-token texts.
func (s *Server) setupChat() error {
	tok := s.e.Tokenizer
	if id := tok.BOS(); id >= 0 {
		s.bos = tok.TokenText(id)
	}
	if id := tok.EOS(); id >= 0 {
		s.eos = tok.TokenText(id)
	}
	var err error
	if s.opt.Template != "" {
		s.renderer, err = chat.Builtin(s.opt.Template)
		s.format = s.opt.Template
	} else {
		src, _ := s.e.File.String("tokenizer.chat_template")
		s.renderer, s.format, err = chat.ForModel(src, s.e.File.Architecture())
	}
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// Registry is the Prometheus registry /metrics serves.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// ModelName is the model id the server reports.
func (s *Server) ModelName() string { return s.opt.ModelName }

// Drain marks the server as shutting down: /ready answers 503 and new
// generation requests get 503, while requests in flight go on. Call it
// before http.Server.Shutdown and Scheduler.Shutdown; the latter ends the
// requests still waiting in the queue at once, and their handlers answer
// 503 too (nothing has been sent to those clients yet, so they can retry
// elsewhere), while running requests finish or are cut at its deadline.
func (s *Server) Drain() { s.draining.Store(true) }

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// routes registers every endpoint.
func (s *Server) routes() {
	m := http.NewServeMux()
	api := func(pattern, endpoint string, h http.HandlerFunc) {
		m.Handle(pattern, s.instrument(endpoint, s.auth(h)))
	}
	for _, p := range []string{"/v1/chat/completions", "/chat/completions", "/beta/chat/completions"} {
		api("POST "+p, "chat", s.handleChat)
	}
	for _, p := range []string{"/v1/completions", "/completions", "/beta/completions"} {
		api("POST "+p, "completions", s.handleCompletions)
	}
	for _, p := range []string{"/v1/messages", "/anthropic/v1/messages"} {
		api("POST "+p, "messages", s.handleMessages)
	}
	api("GET /v1/models", "models", s.handleModels)
	api("GET /models", "models", s.handleModels)
	api("GET /v1/models/{id}", "models", s.handleModel)
	api("GET /models/{id}", "models", s.handleModel)
	for _, p := range []string{"/health", "/healthz"} {
		m.HandleFunc("GET "+p, s.handleHealth)
	}
	for _, p := range []string{"/ready", "/readyz"} {
		m.HandleFunc("GET "+p, s.handleReady)
	}
	m.Handle("GET /metrics", s.metrics.handler(s.registry))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, &openai.Error{Status: http.StatusNotFound, Type: openai.TypeNotFound, Code: "not_found",
			Message: fmt.Sprintf("no route %s %s", r.Method, r.URL.Path)})
	})
	s.mux = m
}

// auth checks the API key when one is configured.
func (s *Server) auth(next http.HandlerFunc) http.HandlerFunc {
	if s.opt.APIKey == "" {
		return next
	}
	want := []byte(s.opt.APIKey)
	return func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("x-api-key")
		scheme := ""
		if h := strings.TrimSpace(r.Header.Get("Authorization")); got == "" && h != "" {
			// The scheme is case-insensitive (RFC 9110 §11.1).
			var k string
			scheme, k, _ = strings.Cut(h, " ")
			if strings.EqualFold(scheme, "Bearer") {
				got = strings.TrimSpace(k)
			}
		}
		if got == "" || subtle.ConstantTimeCompare([]byte(got), want) != 1 {
			msg := "missing API key: send Authorization: Bearer KEY (or x-api-key: KEY)"
			switch {
			case got != "":
				msg = "invalid API key"
			case scheme != "" && !strings.EqualFold(scheme, "Bearer"):
				msg = fmt.Sprintf("Authorization scheme %q is not supported: send Authorization: Bearer KEY (or x-api-key: KEY)", scheme)
			}
			writeError(w, r, &openai.Error{Status: http.StatusUnauthorized, Type: openai.TypeAuthentication, Code: "invalid_api_key", Message: msg})
			return
		}
		next(w, r)
	}
}

// readBody reads the request body within MaxBodyBytes and BodyTimeout.
// Writers that cannot set deadlines (httptest recorders) read without one.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *openai.Error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.opt.BodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opt.MaxBodyBytes))
	if err == nil {
		// Lift the deadline so it cannot touch the rest of the exchange
		// (net/http's background read clears it too when it starts).
		_ = rc.SetReadDeadline(time.Time{})
	} else {
		// Keep it, and close after the error reply: net/http otherwise tries
		// to drain what is left of the body before replying, which waits on
		// the same slow client.
		w.Header().Set("Connection", "close")
	}
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, &openai.Error{Status: http.StatusRequestEntityTooLarge, Type: openai.TypeInvalidRequest, Code: "request_too_large",
				Message: fmt.Sprintf("request body exceeds %d bytes", mb.Limit)}
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &openai.Error{Status: http.StatusRequestTimeout, Type: openai.TypeInvalidRequest, Code: "request_timeout",
				Message: fmt.Sprintf("the request body did not arrive within %s", s.opt.BodyTimeout)}
		}
		return nil, openai.Invalid("", "reading the request body: %v", err)
	}
	return body, nil
}

// checkServing refuses new generations while draining.
func (s *Server) checkServing() *openai.Error {
	if s.draining.Load() {
		return errShuttingDown()
	}
	return nil
}

// newID returns prefix + 24 random hex digits.
func newID(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}
