package server

import (
	"encoding/json"
	"testing"

	"github.com/dseek-ai/dseek/engine"
)

// TestAnthropicUsageWithCache: Anthropic usage counts input_tokens as the
// prompt tokens not read from the prefix cache and cache_read_input_tokens
// as those read from it, and says the same in message_start, in the final
// message_delta and in a non-streamed response, for a cold request and for
// repeats that hit the prefix cache.
func TestAnthropicUsageWithCache(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{})
	type usage struct {
		Input     int `json:"input_tokens"`
		Output    int `json:"output_tokens"`
		CacheRead int `json:"cache_read_input_tokens"`
	}
	body := map[string]any{"max_tokens": 4, "temperature": 0, "system": "Be brief.", "messages": userMsgs("Tell me about prefix caches.")}
	_, whole := ts.post("/v1/messages", body)
	var cold usage
	raw, _ := json.Marshal(whole["usage"])
	json.Unmarshal(raw, &cold)
	if cold.CacheRead != 0 || cold.Input < 2 || cold.Output != 4 {
		t.Fatalf("cold request: usage %+v", cold)
	}
	prompt := cold.Input
	body["stream"] = true
	for i := range 2 {
		r := ts.do("POST", "/v1/messages", body)
		var start, end usage
		for _, ev := range sseEvents(t, r.Body) {
			switch ev[0] {
			case "message_start":
				var m struct{ Message struct{ Usage usage } }
				json.Unmarshal([]byte(ev[1]), &m)
				start = m.Message.Usage
			case "message_delta":
				var m struct{ Usage usage }
				json.Unmarshal([]byte(ev[1]), &m)
				end = m.Usage
			}
		}
		r.Body.Close()
		if start.Input != end.Input || start.CacheRead != end.CacheRead {
			t.Errorf("stream %d: message_start usage %+v, message_delta usage %+v: input and cache reads differ", i, start, end)
		}
		if end.CacheRead == 0 || end.Input+end.CacheRead != prompt || end.Output != 4 {
			t.Errorf("stream %d (a prefix-cache hit): usage %+v, want cache reads and input adding up to the %d prompt tokens", i, end, prompt)
		}
	}
	body["stream"] = false
	_, whole = ts.post("/v1/messages", body)
	var warm usage
	raw, _ = json.Marshal(whole["usage"])
	json.Unmarshal(raw, &warm)
	if warm.CacheRead == 0 || warm.Input+warm.CacheRead != prompt {
		t.Errorf("non-streamed prefix-cache hit: usage %+v, want cache reads and input adding up to %d", warm, prompt)
	}
}
