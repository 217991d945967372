package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dseek-ai/dseek/engine"
)

// TestSlowBodyTimesOut: a client that sends the headers and then trickles
// the body (slowloris) used to hold its connection and handler for as long
// as it liked; the body must now arrive within Options.BodyTimeout or the
// request gets a 408 naming the limit. The client's own read deadline only
// keeps a regression from hanging the test.
func TestSlowBodyTimesOut(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q8_0.gguf", engine.SchedulerOptions{Parallel: 1}, Options{BodyTimeout: 200 * time.Millisecond})
	conn, err := net.Dial("tcp", ts.http.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":1}`
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:5])
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	bufio.NewReader(resp.Body).WriteTo(&sb)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(sb.String(), "request_timeout") {
		t.Fatalf("status %d body %s, want 408 request_timeout", resp.StatusCode, sb.String())
	}
}

// TestHugePromptRefusedBeforeTokenizing: a prompt whose bytes alone cannot
// fit the context (MaxTokenBytes bound) is refused without tokenizing it.
// Tokenizing first let a 15 MB request of spaces take 30 s and 4 GB before
// the same refusal; the message now says "at least".
func TestHugePromptRefusedBeforeTokenizing(t *testing.T) {
	ts := startServer(t, "qwen2-tiny-Q8_0.gguf", engine.SchedulerOptions{Parallel: 1}, Options{})
	spaces := strings.Repeat(" ", 2<<20)
	for path, body := range map[string]any{
		"/v1/chat/completions": map[string]any{"messages": []map[string]any{{"role": "user", "content": spaces}}},
		"/v1/completions":      map[string]any{"prompt": "a", "suffix": spaces},
		"/v1/messages":         map[string]any{"max_tokens": 1, "messages": []map[string]any{{"role": "user", "content": spaces}}},
	} {
		code, out := ts.post(path, body)
		raw := fmt.Sprint(out)
		if code != http.StatusBadRequest || !strings.Contains(raw, "at least") {
			t.Errorf("%s: status %d %.300s, want 400 saying the prompt has at least N tokens", path, code, raw)
		}
	}
	// A prompt that fits is still served.
	if code, out := ts.post("/v1/completions", map[string]any{"prompt": "hello", "max_tokens": 2}); code != http.StatusOK {
		t.Fatalf("small prompt: %d %v", code, out)
	}
}
