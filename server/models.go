package server

import (
	"net/http"

	"github.com/dseek-ai/dseek/openai"
)

// handleModels serves GET /v1/models: the one model this process serves.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	m := openai.NewModelInfo(s.opt.ModelName, s.created)
	writeJSON(w, http.StatusOK, openai.ModelList{Object: "list", Data: []openai.ModelInfo{m}, FirstID: m.ID, LastID: m.ID})
}

// handleModel serves GET /v1/models/{id}.
func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id != s.opt.ModelName {
		writeError(w, r, &openai.Error{Status: http.StatusNotFound, Type: openai.TypeNotFound, Code: "model_not_found", Param: "model",
			Message: "model " + id + " does not exist; this server serves " + s.opt.ModelName})
		return
	}
	writeJSON(w, http.StatusOK, openai.NewModelInfo(id, s.created))
}

// handleHealth is the liveness probe.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady is the readiness probe: 503 while draining.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	if s.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "model": s.opt.ModelName})
}
