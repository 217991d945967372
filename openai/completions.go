package openai

import (
	"encoding/json"
	"reflect"
	"time"
)

// CompletionRequest is a POST /v1/completions body (OpenAI legacy
// completions; DeepSeek's FIM completion at /beta/completions adds suffix).
type CompletionRequest struct {
	Model            string         `json:"model"`
	Prompt           Prompt         `json:"prompt"`
	Suffix           *string        `json:"suffix"`
	MaxTokens        *int           `json:"max_tokens"`
	Temperature      *float64       `json:"temperature"`
	TopP             *float64       `json:"top_p"`
	N                *int           `json:"n"`
	BestOf           *int           `json:"best_of"`
	Stream           bool           `json:"stream"`
	StreamOptions    *StreamOptions `json:"stream_options"`
	Logprobs         *int           `json:"logprobs"`
	Echo             bool           `json:"echo"`
	Stop             StringList     `json:"stop"`
	LogitBias        LogitBias      `json:"logit_bias"`
	Seed             *int64         `json:"seed"`
	PresencePenalty  *float64       `json:"presence_penalty"`
	FrequencyPenalty *float64       `json:"frequency_penalty"`
}

// DefaultCompletionMaxTokens is OpenAI's default max_tokens for
// /v1/completions.
const DefaultCompletionMaxTokens = 16

// Prompt is a completions prompt: a string, an array of one string, or an
// array of token ids (or an array of one such array).
type Prompt struct {
	// Text is the prompt text (when Tokens is nil).
	Text string
	// Tokens are the prompt token ids when given as ids.
	Tokens []int32
	// Count is how many prompts the field held (only 1 is served).
	Count int
}

// UnmarshalJSON accepts the prompt shapes above.
func (p *Prompt) UnmarshalJSON(b []byte) error {
	*p = Prompt{Count: 1}
	switch kindOf(b) {
	case "string":
		return json.Unmarshal(b, &p.Text)
	case "array":
		var strs []string
		if json.Unmarshal(b, &strs) == nil {
			p.Count = len(strs)
			if len(strs) > 0 {
				p.Text = strs[0]
			}
			return nil
		}
		var ids []int32
		if json.Unmarshal(b, &ids) == nil {
			p.Tokens = ids
			if p.Tokens == nil {
				p.Tokens = []int32{}
			}
			return nil
		}
		var lists [][]int32
		if json.Unmarshal(b, &lists) == nil {
			p.Count = len(lists)
			if len(lists) > 0 {
				p.Tokens = lists[0]
			}
			return nil
		}
	case "null":
		p.Count = 0
		return nil
	}
	return typeError(b, reflect.TypeFor[Prompt]())
}

// ParseCompletionRequest decodes and validates a completions body.
func ParseCompletionRequest(data []byte) (*CompletionRequest, *Error) {
	var r CompletionRequest
	if err := decodeStrict(data, &r); err != nil {
		return nil, err
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// Validate checks the fields; the error names the first offending one.
func (r *CompletionRequest) Validate() *Error {
	switch {
	case r.Prompt.Count == 0:
		return Invalid("prompt", "is required")
	case r.Prompt.Count > 1:
		return Invalid("prompt", "only one prompt per request is supported, got %d", r.Prompt.Count)
	case r.Prompt.Tokens != nil && len(r.Prompt.Tokens) == 0:
		return Invalid("prompt", "the token array is empty")
	case r.Prompt.Tokens != nil && r.Suffix != nil:
		return Invalid("suffix", "is only supported with a text prompt")
	}
	for _, c := range []struct {
		name   string
		v      *float64
		lo, hi float64
	}{{"temperature", r.Temperature, 0, 2}, {"top_p", r.TopP, 0, 1}, {"presence_penalty", r.PresencePenalty, -2, 2}, {"frequency_penalty", r.FrequencyPenalty, -2, 2}} {
		if err := checkRange(c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	switch {
	case r.MaxTokens != nil && *r.MaxTokens == 0 && !r.Echo:
		return Invalid("max_tokens", "must be at least 1 (0 only with echo, to return the prompt alone), got 0")
	case r.MaxTokens != nil && *r.MaxTokens < 0:
		return Invalid("max_tokens", "must be at least 1 (0 only with echo), got %d", *r.MaxTokens)
	case r.N != nil && *r.N != 1:
		return Invalid("n", "only 1 choice per request is supported, got %d", *r.N)
	case r.BestOf != nil && *r.BestOf != 1:
		return Invalid("best_of", "only 1 is supported, got %d", *r.BestOf)
	case r.Logprobs != nil && (*r.Logprobs < 0 || *r.Logprobs > MaxTopLogprobs):
		return Invalid("logprobs", "must be between 0 and %d, got %d", MaxTopLogprobs, *r.Logprobs)
	case len(r.Stop) > MaxStop:
		return Invalid("stop", "at most %d stop sequences, got %d", MaxStop, len(r.Stop))
	}
	return nil
}

// Completion is a /v1/completions response, and also each chunk of a
// streamed one (object "text_completion" in both, as OpenAI sends).
type Completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []CompletionChoice `json:"choices"`
	Usage             *Usage             `json:"usage,omitempty"`
}

// CompletionChoice is the one choice of a completion.
type CompletionChoice struct {
	Text         string              `json:"text"`
	Index        int                 `json:"index"`
	Logprobs     *CompletionLogprobs `json:"logprobs"`
	FinishReason *string             `json:"finish_reason"`
}

// CompletionLogprobs are the legacy completions log-probabilities, one
// entry per generated token.
type CompletionLogprobs struct {
	Tokens        []string             `json:"tokens"`
	TokenLogprobs []float64            `json:"token_logprobs"`
	TopLogprobs   []map[string]float64 `json:"top_logprobs"`
	TextOffset    []int                `json:"text_offset"`
}

// ModelList is the GET /v1/models response. It carries both OpenAI's
// fields (object, data[].object/owned_by/created) and Anthropic's
// (has_more, first_id, last_id, data[].type/display_name/created_at), so
// both SDKs read it.
type ModelList struct {
	Object  string      `json:"object"`
	Data    []ModelInfo `json:"data"`
	HasMore bool        `json:"has_more"`
	FirstID string      `json:"first_id"`
	LastID  string      `json:"last_id"`
}

// ModelInfo describes one served model.
type ModelInfo struct {
	ID          string `json:"id"`
	Object      string `json:"object"`
	Created     int64  `json:"created"`
	OwnedBy     string `json:"owned_by"`
	Type        string `json:"type"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

// NewModelInfo describes model id created at t.
func NewModelInfo(id string, t time.Time) ModelInfo {
	return ModelInfo{ID: id, Object: "model", Created: t.Unix(), OwnedBy: "dseek", Type: "model", DisplayName: id, CreatedAt: t.UTC().Format(time.RFC3339)}
}
