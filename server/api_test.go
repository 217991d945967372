package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/engine"
)

// TestAuth: with an API key every API route needs it (Bearer or
// x-api-key); the probes and /metrics stay open.
func TestAuth(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{APIKey: "sekret"})
	chatBody := map[string]any{"messages": userMsgs("hi"), "max_tokens": 1}
	for _, c := range []struct {
		path    string
		body    any
		headers []string
		status  int
	}{
		{"/v1/chat/completions", chatBody, nil, 401},
		{"/v1/chat/completions", chatBody, []string{"Authorization", "Bearer wrong"}, 401},
		{"/v1/chat/completions", chatBody, []string{"Authorization", "Bearer sekret"}, 200},
		{"/v1/chat/completions", chatBody, []string{"x-api-key", "sekret"}, 200},
		// The auth scheme is case-insensitive (RFC 9110 §11.1); lowercase
		// "bearer" used to be treated as no key at all.
		{"/v1/chat/completions", chatBody, []string{"Authorization", "bearer sekret"}, 200},
		{"/v1/chat/completions", chatBody, []string{"Authorization", "BEARER  sekret "}, 200},
		{"/v1/chat/completions", chatBody, []string{"Authorization", "Basic c2VrcmV0"}, 401},
		{"/v1/chat/completions", chatBody, []string{"Authorization", "Bearer"}, 401},
		{"/v1/messages", map[string]any{"max_tokens": 1, "messages": userMsgs("hi")}, []string{"x-api-key", "sekret"}, 200},
		{"/v1/messages", map[string]any{"max_tokens": 1, "messages": userMsgs("hi")}, []string{"x-api-key", "nope"}, 401},
	} {
		resp := ts.do("POST", c.path, c.body, c.headers...)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %v: status %d, want %d: %s", c.path, c.headers, resp.StatusCode, c.status, raw)
		}
		if c.status == 401 && !strings.Contains(string(raw), "authentication_error") {
			t.Errorf("%s: 401 body %s", c.path, raw)
		}
	}
	for _, p := range []string{"/v1/models"} {
		if resp := ts.do("GET", p, nil); resp.StatusCode != 401 {
			t.Errorf("GET %s without key: %d", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/health", "/ready", "/metrics"} {
		if resp := ts.do("GET", p, nil); resp.StatusCode != 200 {
			t.Errorf("GET %s without key: %d, want 200", p, resp.StatusCode)
		}
	}
}

// TestQueueFull: beyond --parallel running and --queue waiting, requests
// get 429 with Retry-After.
func TestQueueFull(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q4_K_M.gguf", engine.SchedulerOptions{Parallel: 1, MaxQueue: -1}, Options{})
	resp := ts.do("POST", "/v1/chat/completions", map[string]any{"messages": userMsgs("long"), "max_tokens": 900, "temperature": 0, "stream": true})
	defer resp.Body.Close()
	buf := make([]byte, 256)
	resp.Body.Read(buf)
	waitFor(t, "the first request to run", func() bool { return ts.metric("dseek_requests_running") == 1 })
	r2 := ts.do("POST", "/v1/chat/completions", map[string]any{"messages": userMsgs("x"), "max_tokens": 1})
	raw, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if r2.StatusCode != 429 || r2.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), "rate_limit_error") {
		t.Errorf("second request: %d %q %s", r2.StatusCode, r2.Header.Get("Retry-After"), raw)
	}
	if ts.metric("dseek_requests_rejected_total") != 1 {
		t.Errorf("rejected counter not 1")
	}
}

// TestCompletionsAndFIM: raw completions equal the single-sequence greedy
// path; with a suffix the prompt is the FIM layout; streaming adds up to
// the same text; models lists the model.
func TestCompletionsAndFIM(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{PrefixCacheBytes: -1}, Options{ModelName: "tiny"})
	tok := ts.e.Tokenizer
	prefix, suffix := "def add(a, b):\n    ", "\n    return c\n"
	begin, hole, end, ok := fimTokens(tok)
	if !ok {
		t.Fatal("the fixture vocabulary has the DeepSeek FIM tokens")
	}
	ids := append([]int32{tok.BOS(), begin}, tok.Encode(prefix, false, false)...)
	ids = append(append(ids, hole), tok.Encode(suffix, false, false)...)
	ids = append(ids, end)
	want := jsonText(greedyText(t, ts.e, ids, 10))
	code, resp := ts.post("/v1/completions", map[string]any{"prompt": prefix, "suffix": suffix, "max_tokens": 10, "temperature": 0})
	if code != 200 {
		t.Fatalf("status %d %v", code, resp)
	}
	choice := resp["choices"].([]any)[0].(map[string]any)
	if choice["text"] != want || resp["usage"].(map[string]any)["prompt_tokens"].(float64) != float64(len(ids)) {
		t.Errorf("FIM text %q (want %q), usage %v (want %d prompt tokens)", choice["text"], want, resp["usage"], len(ids))
	}
	// Streamed, with echo: the prompt text first, then the same completion.
	r := ts.do("POST", "/v1/completions", map[string]any{"prompt": prefix, "suffix": suffix, "max_tokens": 10, "temperature": 0, "stream": true, "echo": true})
	var text string
	for _, ev := range sseEvents(t, r.Body) {
		if ev[1] == "[DONE]" {
			break
		}
		var c map[string]any
		json.Unmarshal([]byte(ev[1]), &c)
		text += c["choices"].([]any)[0].(map[string]any)["text"].(string)
	}
	r.Body.Close()
	if text != prefix+want {
		t.Errorf("stream with echo %q, want %q", text, prefix+want)
	}
	_, models := ts.post("/v1/completions", map[string]any{"prompt": "x", "max_tokens": 1})
	if models["model"] != "tiny" || models["object"] != "text_completion" {
		t.Errorf("completion %v", models)
	}
	resp2 := ts.do("GET", "/v1/models", nil)
	var list struct {
		Object string
		Data   []struct{ ID, Object string }
	}
	json.NewDecoder(resp2.Body).Decode(&list)
	resp2.Body.Close()
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "tiny" {
		t.Errorf("models %+v", list)
	}
	if r := ts.do("GET", "/v1/models/other", nil); r.StatusCode != 404 {
		t.Errorf("unknown model: %d", r.StatusCode)
	}
}

// greedyText is the single-sequence greedy completion of ids as text.
func greedyText(t *testing.T, e *engine.Engine, ids []int32, n int) string {
	t.Helper()
	seq := e.NewSequence()
	defer seq.Close()
	var out []byte
	seq.Generate(t.Context(), ids, engine.GenerateOptions{MaxTokens: n}, func(id int32) bool {
		if !e.Tokenizer.IsEOG(id) {
			out = append(out, e.Tokenizer.Piece(id, true)...)
		}
		return true
	})
	return string(out)
}

// TestAnthropicMessages: non-streamed and streamed Messages agree; usage is
// split the Anthropic way; a stop sequence reports stop_sequence.
func TestAnthropicMessages(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{PrefixCacheBytes: -1}, Options{})
	body := map[string]any{"model": "m", "max_tokens": 16, "temperature": 0, "system": "Be brief.", "messages": userMsgs("Hello")}
	code, whole := ts.post("/v1/messages", body)
	if code != 200 || whole["type"] != "message" || whole["stop_reason"] != "max_tokens" {
		t.Fatalf("status %d: %v", code, whole)
	}
	blocks := whole["content"].([]any)
	thinking := blocks[0].(map[string]any)
	if thinking["type"] != "thinking" || str(thinking, "thinking") == "" {
		t.Errorf("first block %v, want the R1 reasoning as a thinking block", thinking)
	}
	u := whole["usage"].(map[string]any)
	body["stream"] = true
	r := ts.do("POST", "/v1/messages", body)
	events := sseEvents(t, r.Body)
	r.Body.Close()
	var names []string
	var streamed string
	for _, ev := range events {
		names = append(names, ev[0])
		var m map[string]any
		json.Unmarshal([]byte(ev[1]), &m)
		if ev[0] == "content_block_delta" {
			streamed += str(m["delta"].(map[string]any), "thinking") + str(m["delta"].(map[string]any), "text")
		}
	}
	if names[0] != "message_start" || names[len(names)-2] != "message_delta" || names[len(names)-1] != "message_stop" {
		t.Errorf("event order %v", names)
	}
	var whole2 string
	for _, b := range blocks {
		whole2 += str(b.(map[string]any), "thinking") + str(b.(map[string]any), "text")
	}
	if streamed != whole2 {
		t.Errorf("streamed %q, whole %q", streamed, whole2)
	}
	if u["output_tokens"].(float64) != 16 || u["input_tokens"].(float64) < 1 {
		t.Errorf("usage %v", u)
	}
	// Stop on a piece of the output.
	stop := []rune(whole2)[2:4]
	body["stream"], body["stop_sequences"] = false, []string{string(stop)}
	_, stopped := ts.post("/v1/messages", body)
	if stopped["stop_reason"] != "stop_sequence" || stopped["stop_sequence"] != string(stop) {
		t.Errorf("stop_sequences %q: %v", string(stop), stopped)
	}
}

// TestJSONMode: with response_format json_object the answer is one valid
// JSON object (or, when max_tokens cuts it, a prefix of one).
func TestJSONMode(t *testing.T) {
	for _, c := range []struct {
		model, thinking string
	}{{"qwen2-tiny-Q4_K_M.gguf", "disabled"}, {"ds3-tiny-Q4_K_M.gguf", "disabled"}, {"ds3-tiny-Q4_K_M.gguf", "enabled"}} {
		model := c.model + " thinking " + c.thinking
		ts := startServer(t, c.model, engine.SchedulerOptions{}, Options{})
		for seed := range 4 {
			_, resp := ts.post("/v1/chat/completions", map[string]any{
				"messages": userMsgs("Describe a cat."), "max_tokens": 120, "seed": seed, "temperature": 1,
				"response_format": map[string]any{"type": "json_object"}, "thinking": map[string]any{"type": c.thinking},
			})
			ch := resp["choices"].([]any)[0].(map[string]any)
			content := str(ch["message"].(map[string]any), "content")
			t.Logf("%s seed %d: %v %q", model, seed, ch["finish_reason"], content)
			var v jsonValidator
			switch ch["finish_reason"] {
			case "stop":
				var obj map[string]any
				if err := json.Unmarshal([]byte(content), &obj); err != nil {
					t.Errorf("%s seed %d: finished but not a JSON object: %q", model, seed, content)
				}
			case "length":
				if !v.feed(strings.TrimLeft(content, " \t\r\n")) {
					t.Errorf("%s seed %d: cut output is not a JSON prefix: %q", model, seed, content)
				}
			default:
				t.Errorf("%s seed %d: finish %v", model, seed, ch["finish_reason"])
			}
		}
	}
}

// TestDrainEndsStreams: at shutdown the server stops taking requests and
// readiness fails; a stream cut by the scheduler's deadline ends cleanly
// with a finish reason and [DONE].
func TestDrainEndsStreams(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{})
	resp := ts.do("POST", "/v1/chat/completions", map[string]any{"messages": userMsgs("Keep going."), "max_tokens": 240, "temperature": 0, "stream": true})
	buf := make([]byte, 64)
	io.ReadFull(resp.Body, buf)
	ts.srv.Drain()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: cancel what runs
	ts.sched.Shutdown(ctx)
	events := sseEvents(t, io.MultiReader(strings.NewReader(string(buf)), resp.Body))
	resp.Body.Close()
	if n := len(events); n < 2 || events[n-1][1] != "[DONE]" || !strings.Contains(events[n-2][1], `"finish_reason":"`) {
		t.Fatalf("stream did not end cleanly: %v", events[max(0, len(events)-2):])
	}
	if r := ts.do("GET", "/ready", nil); r.StatusCode != 503 {
		t.Errorf("/ready while draining: %d", r.StatusCode)
	}
	if r := ts.do("POST", "/v1/chat/completions", map[string]any{"messages": userMsgs("x")}); r.StatusCode != 503 {
		t.Errorf("new request while draining: %d", r.StatusCode)
	}
	if r := ts.do("GET", "/health", nil); r.StatusCode != 200 {
		t.Errorf("/health while draining: %d", r.StatusCode)
	}
}

// TestGate: while the model loads, /health is 200 and everything else 503;
// then the installed handler serves.
func TestGate(t *testing.T) {
	g := &Gate{}
	hs := httptest.NewServer(g)
	defer hs.Close()
	get := func(p string) int {
		r, err := http.Get(hs.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if get("/health") != 200 || get("/ready") != 503 || get("/v1/models") != 503 {
		t.Errorf("loading: health %d ready %d models %d", get("/health"), get("/ready"), get("/v1/models"))
	}
	g.Set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	if get("/ready") != http.StatusTeapot {
		t.Errorf("after Set: %d", get("/ready"))
	}
}
