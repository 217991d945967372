package openai

// ChatCompletion is a non-streamed chat completions response.
type ChatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"` // "chat.completion"
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []ChatChoice `json:"choices"`
	Usage             *Usage       `json:"usage"`
}

// ChatChoice is the one choice of a response.
type ChatChoice struct {
	Index        int             `json:"index"`
	Message      ResponseMessage `json:"message"`
	Logprobs     *Logprobs       `json:"logprobs"`
	FinishReason string          `json:"finish_reason"`
}

// ResponseMessage is the generated assistant turn. Content is null when
// the turn only calls tools; ReasoningContent is set for thinking output.
type ResponseMessage struct {
	Role             string     `json:"role"`
	Content          *string    `json:"content"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`
}

// ChatChunk is one server-sent event of a streamed chat completion.
// The last chunk of a stream with include_usage has no choices and a
// usage.
type ChatChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"` // "chat.completion.chunk"
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
}

// ChunkChoice is the delta of the one choice in a chunk.
type ChunkChoice struct {
	Index        int       `json:"index"`
	Delta        Delta     `json:"delta"`
	Logprobs     *Logprobs `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// Delta is the new part of the assistant turn. Content and reasoning never
// share a delta's field: reasoning goes to ReasoningContent only.
type Delta struct {
	Role             string          `json:"role,omitempty"`
	Content          *string         `json:"content,omitempty"`
	ReasoningContent *string         `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCallDelta `json:"tool_calls,omitempty"`
}

// ToolCallDelta is a tool call in a stream; dseek sends each call whole,
// in one delta.
type ToolCallDelta struct {
	Index    int          `json:"index"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// Usage counts a request's tokens, with DeepSeek's cache fields
// (prompt_cache_hit_tokens + prompt_cache_miss_tokens = prompt_tokens) and
// OpenAI's prompt_tokens_details.cached_tokens (= the hit tokens).
type Usage struct {
	PromptTokens            int                      `json:"prompt_tokens"`
	CompletionTokens        int                      `json:"completion_tokens"`
	TotalTokens             int                      `json:"total_tokens"`
	PromptCacheHitTokens    int                      `json:"prompt_cache_hit_tokens"`
	PromptCacheMissTokens   int                      `json:"prompt_cache_miss_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
}

// PromptTokensDetails splits the prompt tokens (OpenAI).
type PromptTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// CompletionTokensDetails splits the completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// NewUsage fills every field from the three counts.
func NewUsage(prompt, cached, completion, reasoning int) *Usage {
	return &Usage{
		PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion,
		PromptCacheHitTokens: cached, PromptCacheMissTokens: prompt - cached,
		PromptTokensDetails:     &PromptTokensDetails{CachedTokens: cached},
		CompletionTokensDetails: &CompletionTokensDetails{ReasoningTokens: reasoning},
	}
}

// Logprobs are the chat log-probabilities of the generated tokens.
type Logprobs struct {
	Content []TokenLogprob `json:"content"`
}

// TokenLogprob is one generated token: its text, natural-log probability,
// UTF-8 bytes, and the most likely alternatives at its position.
type TokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs"`
}

// TopLogprob is one alternative token at a position.
type TopLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// Finish reasons of OpenAI-style responses.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
	// FinishInsufficientResources is DeepSeek's reason for a request cut
	// short because the server ran out of KV cache.
	FinishInsufficientResources = "insufficient_system_resource"
)
