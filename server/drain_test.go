package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dseek-ai/dseek/engine"
)

// TestDrainRejectsQueued: when draining begins, requests still waiting in
// the queue are answered at once with a 503 overloaded_error ("shutting
// down"; Anthropic's error shape on /v1/messages), streamed or not, so
// their clients can retry elsewhere; the running request goes on to its
// end (finish_reason "length", every token).
func TestDrainRejectsQueued(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q4_K_M.gguf", engine.SchedulerOptions{Parallel: 1}, Options{})
	noEOG := map[string]any{}
	for _, id := range ts.e.Tokenizer.EOGIDs() {
		noEOG[strconv.Itoa(int(id))] = -100
	}
	running := ts.do("POST", "/v1/completions", map[string]any{"prompt": "Once upon a time", "max_tokens": 1000, "temperature": 0,
		"logit_bias": noEOG, "stream": true, "stream_options": map[string]any{"include_usage": true}})
	var runDone atomic.Bool
	runEvents := make(chan [][2]string, 1)
	go func() {
		ev := sseEvents(t, running.Body)
		runDone.Store(true)
		running.Body.Close()
		runEvents <- ev
	}()
	waitFor(t, "the first request to run", func() bool { return ts.metric("dseek_requests_running") == 1 })

	queued := []struct {
		path string
		body map[string]any
	}{
		{"/v1/chat/completions", map[string]any{"messages": userMsgs("queued"), "max_tokens": 4}},
		{"/v1/chat/completions", map[string]any{"messages": userMsgs("queued"), "max_tokens": 4, "stream": true}},
		{"/v1/completions", map[string]any{"prompt": "queued", "max_tokens": 4, "stream": true}},
		{"/v1/completions", map[string]any{"prompt": []int{5, 6, 7}, "max_tokens": 4}},
		{"/v1/messages", map[string]any{"messages": userMsgs("queued"), "max_tokens": 4}},
		{"/v1/messages", map[string]any{"messages": userMsgs("queued"), "max_tokens": 4, "stream": true}},
	}
	type answer struct {
		status      int
		retryAfter  string
		body        string
		whileRuning bool
		err         error
	}
	answers := make([]answer, len(queued))
	var wg sync.WaitGroup
	for i, q := range queued {
		wg.Go(func() {
			raw, _ := json.Marshal(q.body)
			resp, err := http.Post(ts.http.URL+q.path, "application/json", bytes.NewReader(raw))
			if err != nil {
				answers[i].err = err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			answers[i] = answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), body: string(b), whileRuning: !runDone.Load()}
		})
	}
	waitFor(t, "the requests to queue", func() bool { return ts.metric("dseek_requests_waiting") == float64(len(queued)) })

	ts.srv.Drain()
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		shut <- ts.sched.Shutdown(ctx)
	}()
	wg.Wait()
	for i, a := range answers {
		q := queued[i]
		name := q.path
		if q.body["stream"] == true {
			name += " (stream)"
		}
		if a.err != nil {
			t.Errorf("%s: %v", name, a.err)
			continue
		}
		if a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("%s queued at shutdown: status %d, Retry-After %q, want 503 at once: %s", name, a.status, a.retryAfter, a.body)
			continue
		}
		if !a.whileRuning {
			t.Errorf("%s: the 503 came only after the running request had finished", name)
		}
		var body struct {
			Type  string
			Error struct{ Type, Message, Code string }
		}
		if err := json.Unmarshal([]byte(a.body), &body); err != nil {
			t.Errorf("%s: body %q", name, a.body)
			continue
		}
		if body.Error.Type != "overloaded_error" || !strings.Contains(body.Error.Message, "shutting down") {
			t.Errorf("%s: error %+v, want overloaded_error, shutting down", name, body.Error)
		}
		if anth := strings.HasSuffix(q.path, "/messages"); anth && body.Type != "error" {
			t.Errorf("%s: not Anthropic's error shape: %s", name, a.body)
		} else if !anth && body.Error.Code != "shutting_down" {
			t.Errorf("%s: code %q, want shutting_down", name, body.Error.Code)
		}
	}
	// The running request ran to its end.
	events := <-runEvents
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	n := len(events)
	if n < 3 || events[n-1][1] != "[DONE]" || !strings.Contains(events[n-3][1], `"finish_reason":"length"`) ||
		!strings.Contains(events[n-2][1], `"completion_tokens":1000`) {
		t.Fatalf("the running request did not run to its end: %v", events[max(0, n-3):])
	}
}

// TestAnthropicCutReasons: a /v1/messages answer that the server cut short
// (shutdown deadline, no KV room, rejected) ends with overloaded_error (a
// 503 when nothing was sent yet, an error event in a stream), never with
// stop_reason "max_tokens", which would tell clients the token budget ran
// out; answers that did reach their budget or the context keep max_tokens.
func TestAnthropicCutReasons(t *testing.T) {
	for _, r := range []string{engine.StopPreempted, engine.StopCancelled, engine.StopRejected} {
		ev := engine.Event{Done: true, Reason: r, Usage: engine.Usage{CompletionTokens: 7}}
		e := anthCutError(ev)
		if e == nil || e.Status != http.StatusServiceUnavailable || e.Type != "overloaded_error" || !strings.Contains(e.Message, "after 7 tokens") {
			t.Errorf("%s: cut error %+v, want a 503 overloaded_error", r, e)
		}
		if got, _ := stopReason(ev, false); got == "max_tokens" {
			t.Errorf("%s: stop_reason max_tokens", r)
		}
	}
	for _, r := range []string{engine.StopLength, engine.StopContext} {
		ev := engine.Event{Done: true, Reason: r}
		if anthCutError(ev) != nil {
			t.Errorf("%s: reported as cut", r)
		}
		if got, _ := stopReason(ev, false); got != "max_tokens" {
			t.Errorf("%s: stop_reason %q, want max_tokens", r, got)
		}
	}
}
