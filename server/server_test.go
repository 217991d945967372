package server

import (
	"bufio"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
)

// serverModels: an R1-template MLA+MoE model (output starts in reasoning)
// and a V2-Chat-template one (plain content).
var serverModels = []string{"ds3-tiny-Q4_K_M.gguf", "ds2-lite-tiny-Q4_0.gguf"}

// TestGreedyMatchesSequence: greedy chat output through the HTTP server
// equals the single-sequence path (dseek run's Sequence.Generate) for the
// same conversation, token for token (the logprobs bytes are the exact
// generated text), alone and with 8 concurrent requests sharing decode
// steps; reasoning_content and content are that text parsed.
func TestGreedyMatchesSequence(t *testing.T) {
	for _, model := range serverModels {
		t.Run(model, func(t *testing.T) {
			ts := startServer(t, model, engine.SchedulerOptions{Parallel: 8, PrefixCacheBytes: -1}, Options{})
			const maxTokens = 12
			refs := make([]reference, 8)
			for i := range refs {
				refs[i] = chatReference(t, ts.e, []chat.Message{{Role: "user", Content: fmtMsg(i)}}, maxTokens)
			}
			for _, n := range []int{1, 8} {
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { checkGreedy(t, ts, i, refs[i], maxTokens) })
				}
				wg.Wait()
			}
			if st := ts.sched.Stats(); st.StepTokens <= st.Steps {
				t.Errorf("%d steps carried %d tokens: requests never shared a step", st.Steps, st.StepTokens)
			}
		})
	}
}

// checkGreedy sends conversation i greedily and compares with ref.
func checkGreedy(t *testing.T, ts *testServer, i int, ref reference, maxTokens int) {
	code, resp := ts.post("/v1/chat/completions", map[string]any{
		"messages": userMsgs(fmtMsg(i)), "max_tokens": maxTokens, "temperature": 0, "logprobs": true,
	})
	if code != 200 {
		t.Errorf("request %d: status %d %v", i, code, resp)
		return
	}
	choice := resp["choices"].([]any)[0].(map[string]any)
	msg := choice["message"].(map[string]any)
	if raw := rawFromLogprobs(t, choice); raw != ref.raw {
		t.Errorf("request %d: server generated %q, sequence %q", i, raw, ref.raw)
	}
	if str(msg, "reasoning_content") != ref.reasoning || str(msg, "content") != ref.content {
		t.Errorf("request %d: reasoning %q content %q, want %q / %q", i, str(msg, "reasoning_content"), str(msg, "content"), ref.reasoning, ref.content)
	}
	usage := resp["usage"].(map[string]any)
	if int(usage["prompt_tokens"].(float64)) != ref.prompt {
		t.Errorf("request %d: prompt_tokens %v, want %d", i, usage["prompt_tokens"], ref.prompt)
	}
}

// TestStreamEqualsNonStream: the streamed deltas add up to the non-streamed
// answer; reasoning and content never share a delta; the usage chunk comes
// last before [DONE] when asked for.
func TestStreamEqualsNonStream(t *testing.T) {
	// No prefix cache: the second request would reuse the first one's KV,
	// evaluating its last prompt token in the absorbed MLA form.
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{PrefixCacheBytes: -1}, Options{})
	body := map[string]any{"messages": userMsgs("Tell me a story."), "max_tokens": 24, "temperature": 0}
	_, whole := ts.post("/v1/chat/completions", body)
	msg := whole["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)

	body["stream"], body["stream_options"] = true, map[string]any{"include_usage": true}
	resp := ts.do("POST", "/v1/chat/completions", body)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := sseEvents(t, resp.Body)
	if len(events) < 3 || events[len(events)-1][1] != "[DONE]" {
		t.Fatalf("stream does not end with [DONE]: %v", events)
	}
	var reasoning, content, finish string
	var usage map[string]any
	for _, ev := range events[:len(events)-1] {
		var c map[string]any
		if err := json.Unmarshal([]byte(ev[1]), &c); err != nil {
			t.Fatal(err)
		}
		if c["object"] != "chat.completion.chunk" {
			t.Errorf("object %v", c["object"])
		}
		if u, ok := c["usage"].(map[string]any); ok {
			usage = u
			continue
		}
		ch := c["choices"].([]any)[0].(map[string]any)
		d := ch["delta"].(map[string]any)
		if d["reasoning_content"] != nil && d["content"] != nil && str(d, "content") != "" {
			t.Errorf("a delta mixes reasoning and content: %v", d)
		}
		reasoning += str(d, "reasoning_content")
		content += str(d, "content")
		if f, ok := ch["finish_reason"].(string); ok {
			finish = f
		}
	}
	if reasoning != str(msg, "reasoning_content") || content != str(msg, "content") {
		t.Errorf("stream %q / %q, whole %q / %q", reasoning, content, str(msg, "reasoning_content"), str(msg, "content"))
	}
	if finish != "length" || usage == nil || usage["completion_tokens"].(float64) != 24 {
		t.Errorf("finish %q usage %v", finish, usage)
	}
	if reasoning == "" {
		t.Errorf("R1 template: expected reasoning_content, the prompt ends in <think>")
	}
}

// TestDisconnectFreesSlot: a client that goes away mid-stream frees its
// slot and KV cache; the metrics show it.
func TestDisconnectFreesSlot(t *testing.T) {
	// 4000 tokens take seconds even on this tiny model; the client leaves
	// after the first few.
	ts := startServer(t, "qwen2-tiny-Q4_K_M.gguf", engine.SchedulerOptions{Parallel: 1, PrefixCacheBytes: -1, MaxSeqLen: 4096}, Options{})
	resp := ts.do("POST", "/v1/chat/completions", map[string]any{
		"messages": userMsgs("Go on forever."), "max_tokens": 4000, "temperature": 0, "stream": true,
	})
	events := 0
	sc := bufio.NewScanner(resp.Body)
	for events < 4 && sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			events++
		}
	}
	waitFor(t, "the request to run", func() bool { return ts.metric("dseek_requests_running") == 1 })
	if got := ts.metric("vllm:num_requests_running"); got != 1 {
		t.Fatalf("while streaming: vllm:num_requests_running %v, want 1", got)
	}
	resp.Body.Close()
	ts.http.CloseClientConnections()
	waitFor(t, "the slot to be freed", func() bool {
		return ts.metric("dseek_requests_running") == 0 && ts.metric(`dseek_requests_finished_total{reason="cancelled"}`) == 1
	})
	if got := ts.metric(`dseek_kv_cache_pages{state="used"}`); got != 0 {
		t.Errorf("after disconnect: %v KV pages in use, want 0", got)
	}
}

// waitFor polls cond (the server notices a closed connection
// asynchronously); it fails after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestPrefixCacheHit: a repeated conversation is served from the prefix
// cache: usage reports the hit tokens the DeepSeek and OpenAI ways, only the
// missed tokens are prefilled, and the answer is unchanged. A second turn
// reuses the first turn's prompt.
func TestPrefixCacheHit(t *testing.T) {
	// The F16 file: with quantized attn_kv_b, the absorbed MLA form used for
	// the one uncached token differs from the prefill form by up to ~0.5 in
	// a logit (see engine's splitModels), which can flip a greedy choice.
	ts := startServer(t, "ds3-tiny-F16.gguf", engine.SchedulerOptions{}, Options{})
	body := map[string]any{"messages": userMsgs("Remember this long question about caches."), "max_tokens": 8, "temperature": 0}
	_, first := ts.post("/v1/chat/completions", body)
	u1 := first["usage"].(map[string]any)
	if u1["prompt_cache_hit_tokens"].(float64) != 0 {
		t.Fatalf("first request: usage %v", u1)
	}
	prefill := ts.metric("dseek_prefill_tokens_total")
	_, second := ts.post("/v1/chat/completions", body)
	u2 := second["usage"].(map[string]any)
	prompt, hit, miss := u2["prompt_tokens"].(float64), u2["prompt_cache_hit_tokens"].(float64), u2["prompt_cache_miss_tokens"].(float64)
	if hit != prompt-1 || miss != 1 || u2["prompt_tokens_details"].(map[string]any)["cached_tokens"].(float64) != hit {
		t.Errorf("repeat: usage %v, want %v hit tokens", u2, prompt-1)
	}
	if got := ts.metric("dseek_prefill_tokens_total") - prefill; got != miss {
		t.Errorf("repeat prefilled %v tokens, want %v", got, miss)
	}
	m1 := first["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	m2 := second["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if str(m1, "reasoning_content") != str(m2, "reasoning_content") || str(m1, "content") != str(m2, "content") {
		t.Errorf("cached answer %v differs from %v", m2, m1)
	}
	// Second turn: the history re-sends the first prompt.
	msgs := append(userMsgs("Remember this long question about caches."),
		map[string]any{"role": "assistant", "content": "Noted."}, map[string]any{"role": "user", "content": "And now?"})
	_, third := ts.post("/v1/chat/completions", map[string]any{"messages": msgs, "max_tokens": 4, "temperature": 0})
	u3 := third["usage"].(map[string]any)
	if u3["prompt_cache_hit_tokens"].(float64) < prompt-3 {
		t.Errorf("second turn: usage %v, want at least %v hit tokens (the first prompt up to its generation header)", u3, prompt-3)
	}
}

// TestReasoningAndThinkingSwitch: with the R1 template thinking off closes
// the think block in the prompt, so no reasoning_content is produced and the
// prompt is longer by the closing tokens.
func TestReasoningAndThinkingSwitch(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{})
	on := map[string]any{"messages": userMsgs("Think about it."), "max_tokens": 6, "temperature": 0}
	_, r1 := ts.post("/v1/chat/completions", on)
	off := map[string]any{"messages": userMsgs("Think about it."), "max_tokens": 6, "temperature": 0, "thinking": map[string]any{"type": "disabled"}}
	_, r2 := ts.post("/v1/chat/completions", off)
	m1 := r1["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	m2 := r2["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if _, ok := m1["reasoning_content"]; !ok {
		t.Errorf("thinking on: no reasoning_content in %v", m1)
	}
	if _, ok := m2["reasoning_content"]; ok {
		t.Errorf("thinking off: reasoning_content in %v", m2)
	}
	p1 := r1["usage"].(map[string]any)["prompt_tokens"].(float64)
	p2 := r2["usage"].(map[string]any)["prompt_tokens"].(float64)
	if p2 <= p1 {
		t.Errorf("thinking off: prompt %v tokens, on %v: the think block was not closed", p2, p1)
	}
	_, r3 := ts.post("/v1/chat/completions", map[string]any{"messages": userMsgs("Think about it."), "max_tokens": 6, "temperature": 0, "reasoning_effort": "none"})
	if r3["usage"].(map[string]any)["prompt_tokens"].(float64) != p2 {
		t.Errorf("reasoning_effort none differs from thinking disabled")
	}
}

// TestToolMessagesAccepted: a conversation with tools, an assistant turn
// carrying reasoning_content and tool_calls, and the tool's result is
// accepted and rendered (the tool result and the call's arguments reach
// the prompt).
func TestToolMessagesAccepted(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{})
	tools := []map[string]any{{"type": "function", "function": map[string]any{
		"name": "get_weather", "description": "Weather of a city", "parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}}}}}
	msgs := []map[string]any{
		{"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": nil, "reasoning_content": "I should call the tool.", "tool_calls": []map[string]any{
			{"id": "call_1", "type": "function", "function": map[string]any{"name": "get_weather", "arguments": `{"city":"Paris"}`}}}},
		{"role": "tool", "tool_call_id": "call_1", "content": "sunny, 24 C"},
	}
	base := map[string]any{"messages": msgs[:1], "tools": tools, "max_tokens": 2, "temperature": 0}
	_, short := ts.post("/v1/chat/completions", base)
	code, resp := ts.post("/v1/chat/completions", map[string]any{"messages": msgs, "tools": tools, "tool_choice": "auto", "max_tokens": 2, "temperature": 0})
	if code != 200 {
		t.Fatalf("status %d: %v", code, resp)
	}
	grown := resp["usage"].(map[string]any)["prompt_tokens"].(float64) - short["usage"].(map[string]any)["prompt_tokens"].(float64)
	want := len(ts.e.Tokenizer.Encode(`sunny, 24 C{"city":"Paris"}get_weather`, false, false))
	if int(grown) < want {
		t.Errorf("the tool turn added %v prompt tokens, fewer than its text (%d)", grown, want)
	}
	_, none := ts.post("/v1/chat/completions", map[string]any{"messages": msgs[:1], "tools": tools, "tool_choice": "none", "max_tokens": 2, "temperature": 0})
	if none["usage"].(map[string]any)["prompt_tokens"].(float64) >= short["usage"].(map[string]any)["prompt_tokens"].(float64) {
		t.Errorf("tool_choice none still describes the tools")
	}
}

// TestToolCallsFromOutput: generated DeepSeek tool-call markup becomes
// tool_calls with ids, content stays free of it, and the finish reason is
// tool_calls only when calls exist.
func TestToolCallsFromOutput(t *testing.T) {
	s := &Server{format: chat.FormatDeepSeekV3}
	out, err := s.newChatOutput(&chatPrompt{tools: true}, "call_")
	if err != nil {
		t.Fatal(err)
	}
	text := "Let me check." + chat.TokToolCallsBegin + chat.TokToolCallBegin + "function" + chat.TokToolSep + "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + chat.TokToolCallEnd +
		chat.TokToolCallBegin + "function" + chat.TokToolSep + "get_time\n```json\n{}\n```" + chat.TokToolCallEnd + chat.TokToolCallsEnd
	for i := 0; i < len(text); i += 7 {
		out.add(text[i:min(i+7, len(text))], false, true)
	}
	out.add("", true, false)
	if out.content.String() != "Let me check." || len(out.calls) != 2 {
		t.Fatalf("content %q, calls %+v", out.content.String(), out.calls)
	}
	c := out.calls[0]
	if c.Function.Name != "get_weather" || string(c.Function.Arguments) != `{"city":"Paris"}` || !strings.HasPrefix(c.ID, "call_") || c.ID == out.calls[1].ID {
		t.Errorf("call %+v", c)
	}
	if got := finishReason(engine.Event{Reason: engine.StopEOG}, true); got != "tool_calls" {
		t.Errorf("finish %q", got)
	}
	if got := finishReason(engine.Event{Reason: engine.StopEOG}, false); got != "stop" {
		t.Errorf("finish without calls %q", got)
	}
	if got := finishReason(engine.Event{Reason: engine.StopLength}, true); got != "length" {
		t.Errorf("finish at length %q", got)
	}
}

// TestErrors: malformed requests get a 4xx with an OpenAI (or Anthropic)
// error object naming the field; a prompt longer than the context is a 400.
func TestErrors(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{MaxBodyBytes: 4096})
	for _, c := range []struct {
		path, body   string
		status       int
		param, code  string
		anthropicish bool
	}{
		{"/v1/chat/completions", `{"messages": [`, 400, "", "", false},
		{"/v1/chat/completions", `{"messages": []}`, 400, "messages", "", false},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "temperature": 9}`, 400, "temperature", "", false},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 5}`, 400, "top_logprobs", "", false},
		{"/v1/chat/completions", `{"messages": [{"role": "bot", "content": "x"}]}`, 400, "messages[0].role", "", false},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + strings.Repeat("long ", 300) + `"}]}`, 400, "messages", "context_length_exceeded", false},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + strings.Repeat("x", 5000) + `"}]}`, 413, "", "request_too_large", false},
		{"/v1/completions", `{"prompt": [1, 999999]}`, 400, "prompt", "", false},
		{"/v1/completions", `{"prompt": "x", "n": 3}`, 400, "n", "", false},
		{"/v1/messages", `{"messages": [{"role": "user", "content": "x"}]}`, 400, "max_tokens", "", true},
		{"/v1/nope", `{}`, 404, "", "not_found", false},
	} {
		resp := ts.do("POST", c.path, c.body)
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %.60s: status %d, want %d (%s)", c.path, c.body, resp.StatusCode, c.status, raw)
			continue
		}
		var body struct {
			Type  string `json:"type"`
			Error struct {
				Message, Type, Param, Code string
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &body); err != nil || body.Error.Message == "" {
			t.Errorf("%s: error body %s", c.path, raw)
			continue
		}
		if c.anthropicish {
			if body.Type != "error" || !strings.Contains(body.Error.Message, c.param) {
				t.Errorf("%s: Anthropic error %s", c.path, raw)
			}
			continue
		}
		if body.Error.Param != c.param || (c.code != "" && body.Error.Code != c.code) {
			t.Errorf("%s %.60s: param %q code %q, want %q %q (%s)", c.path, c.body, body.Error.Param, body.Error.Code, c.param, c.code, body.Error.Message)
		}
	}
}
