package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/engine"
)

// streamCompletion posts a streamed completion and returns the text of
// its chunks in order, the finish reason, the usage (if sent) and whether
// the stream ended with [DONE].
func (ts *testServer) streamCompletion(body map[string]any) (texts []string, finish string, usage map[string]any, done bool) {
	ts.t.Helper()
	body["stream"] = true
	r := ts.do("POST", "/v1/completions", body)
	defer r.Body.Close()
	if r.StatusCode != 200 {
		ts.t.Fatalf("streamed completion: status %d", r.StatusCode)
	}
	for _, ev := range sseEvents(ts.t, r.Body) {
		if ev[1] == "[DONE]" {
			done = true
			break
		}
		var c struct {
			Choices []struct {
				Text         string
				FinishReason *string `json:"finish_reason"`
			}
			Usage map[string]any
		}
		if err := json.Unmarshal([]byte(ev[1]), &c); err != nil {
			ts.t.Fatalf("chunk %s: %v", ev[1], err)
		}
		if c.Usage != nil {
			usage = c.Usage
		}
		for _, ch := range c.Choices {
			texts = append(texts, ch.Text)
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	return texts, finish, usage, done
}

// TestEchoTokenPrompt: echo works for a token-id prompt as for a text
// prompt: the detokenized prompt comes first (streamed: as the first
// chunk), then the same completion, with the logprobs' text offsets
// counted after it.
func TestEchoTokenPrompt(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{PrefixCacheBytes: -1}, Options{})
	tok := ts.e.Tokenizer
	text := "The capital of France is"
	ids := tok.Encode(text, true, true)
	echo := jsonText(string(tok.Decode(ids, true)))
	want := jsonText(greedyText(t, ts.e, ids, 8))
	if !strings.HasSuffix(echo, text) {
		t.Fatalf("detokenized prompt %q does not end with %q", echo, text)
	}
	code, resp := ts.post("/v1/completions", map[string]any{"prompt": ids, "echo": true, "max_tokens": 8, "temperature": 0, "logprobs": 1})
	if code != 200 {
		t.Fatalf("status %d: %v", code, resp)
	}
	choice := resp["choices"].([]any)[0].(map[string]any)
	if got := str(choice, "text"); got != echo+want {
		t.Errorf("echo of a token prompt: %q, want %q", got, echo+want)
	}
	lp, _ := choice["logprobs"].(map[string]any)
	if lp == nil || len(lp["text_offset"].([]any)) == 0 || lp["text_offset"].([]any)[0].(float64) != float64(len(tok.Decode(ids, true))) {
		t.Errorf("logprobs %v: the first text offset should be the echo's length %d", lp, len(tok.Decode(ids, true)))
	}
	// The text prompt's echo, for comparison: the same completion after
	// the prompt text (BOS is added, not written, so not echoed).
	_, tresp := ts.post("/v1/completions", map[string]any{"prompt": text, "echo": true, "max_tokens": 8, "temperature": 0})
	if got := str(tresp["choices"].([]any)[0].(map[string]any), "text"); got != text+want {
		t.Errorf("echo of a text prompt: %q, want %q", got, text+want)
	}
	texts, finish, _, done := ts.streamCompletion(map[string]any{"prompt": ids, "echo": true, "max_tokens": 8, "temperature": 0})
	if len(texts) == 0 || texts[0] != echo || strings.Join(texts, "") != echo+want || finish != "length" || !done {
		t.Errorf("streamed echo of a token prompt: chunks %q, finish %q, done %v; want %q first, %q in all", texts, finish, done, echo, echo+want)
	}
}

// TestEchoMaxTokensZero: max_tokens 0 with echo returns the prompt alone
// (finish_reason "length", no completion tokens), streamed or not, for text
// and token prompts; without echo it stays a 400, and the prompt is still
// checked.
func TestEchoMaxTokensZero(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{})
	tok := ts.e.Tokenizer
	text := "Score this prompt."
	ids := tok.Encode(text, true, true)
	for _, c := range []struct {
		prompt any
		echo   string
	}{{text, text}, {ids, jsonText(string(tok.Decode(ids, true)))}} {
		code, resp := ts.post("/v1/completions", map[string]any{"prompt": c.prompt, "echo": true, "max_tokens": 0})
		if code != 200 {
			t.Errorf("prompt %v, max_tokens 0, echo: status %d %v", c.prompt, code, resp)
			continue
		}
		choice := resp["choices"].([]any)[0].(map[string]any)
		u := resp["usage"].(map[string]any)
		if str(choice, "text") != c.echo || choice["finish_reason"] != "length" ||
			u["prompt_tokens"].(float64) != float64(len(ids)) || u["completion_tokens"].(float64) != 0 {
			t.Errorf("prompt %v, max_tokens 0, echo: %v, want the text %q alone, %d prompt tokens", c.prompt, resp, c.echo, len(ids))
		}
		texts, finish, usage, done := ts.streamCompletion(map[string]any{"prompt": c.prompt, "echo": true, "max_tokens": 0,
			"stream_options": map[string]any{"include_usage": true}})
		if strings.Join(texts, "") != c.echo || finish != "length" || !done || usage == nil || usage["completion_tokens"].(float64) != 0 {
			t.Errorf("prompt %v, streamed, max_tokens 0, echo: %q %q %v %v", c.prompt, texts, finish, usage, done)
		}
	}
	for _, c := range []struct {
		name        string
		body        map[string]any
		param, code string
	}{
		{"no echo", map[string]any{"prompt": text, "max_tokens": 0}, "max_tokens", ""},
		{"token outside the vocabulary", map[string]any{"prompt": []int{1, 999999}, "max_tokens": 0, "echo": true}, "prompt", ""},
		{"prompt longer than the context", map[string]any{"prompt": make([]int, 300), "max_tokens": 0, "echo": true}, "prompt", "context_length_exceeded"},
	} {
		code, resp := ts.post("/v1/completions", c.body)
		e, _ := resp["error"].(map[string]any)
		if code != 400 || e == nil || e["param"] != c.param || (c.code != "" && e["code"] != c.code) {
			t.Errorf("max_tokens 0, %s: %d %v, want a 400 naming %s", c.name, code, resp, c.param)
		}
	}
}
