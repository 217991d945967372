package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// testServer is a server on a loopback port over a fixture model.
type testServer struct {
	t     *testing.T
	e     *engine.Engine
	sched *engine.Scheduler
	srv   *Server
	http  *httptest.Server
}

// startServer loads a fixture model and serves it.
func startServer(t *testing.T, model string, so engine.SchedulerOptions, o Options) *testServer {
	t.Helper()
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.Load(context.Background(), filepath.Join(dir, "models", model), engine.Options{CtxSize: 4096, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := engine.NewScheduler(e, so)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(e, sched, o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, sched: sched, srv: srv, http: httptest.NewServer(srv)}
	t.Cleanup(func() {
		ts.http.CloseClientConnections()
		sched.Shutdown(context.Background())
		ts.http.Close()
		e.Close()
	})
	return ts
}

// post sends a JSON body and returns the status and the decoded response.
func (ts *testServer) post(path string, body any, headers ...string) (int, map[string]any) {
	ts.t.Helper()
	resp := ts.do("POST", path, body, headers...)
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		ts.t.Fatalf("%s: response is not JSON: %q", path, raw)
	}
	return resp.StatusCode, out
}

// do sends a request; body is JSON-encoded unless it is a string.
func (ts *testServer) do(method, path string, body any, headers ...string) *http.Response {
	ts.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	return resp
}

// sseEvents reads a server-sent event stream: (event name, data) pairs.
func sseEvents(t *testing.T, r io.Reader) [][2]string {
	t.Helper()
	var out [][2]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	name := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			out = append(out, [2]string{name, strings.TrimPrefix(line, "data: ")})
			name = ""
		}
	}
	return out
}

// metric reads one sample of /metrics (name with labels, as printed).
func (ts *testServer) metric(sample string) float64 {
	ts.t.Helper()
	resp := ts.do("GET", "/metrics", nil)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				ts.t.Fatal(err)
			}
			return f
		}
	}
	return -1
}

// reference computes, with the single-sequence path (Sequence.Generate, as
// dseek run does), the greedy output of a conversation rendered the way
// dseek run renders it: the raw generated text (special tokens as text, no
// final EOS) and the parsed reasoning and content.
type reference struct {
	raw, reasoning, content string
	prompt                  int
}

func chatReference(t *testing.T, e *engine.Engine, msgs []chat.Message, maxTokens int) reference {
	t.Helper()
	src, _ := e.File.String("tokenizer.chat_template")
	r, format, err := chat.ForModel(src, e.File.Architecture())
	if err != nil {
		t.Fatal(err)
	}
	bos, eos := e.Tokenizer.TokenText(e.Tokenizer.BOS()), e.Tokenizer.TokenText(e.Tokenizer.EOS())
	text, spans, err := chat.RenderSpans(r, msgs, chat.RenderOptions{AddGenerationPrompt: true, BOS: bos, EOS: eos})
	if err != nil {
		t.Fatal(err)
	}
	ids := e.Tokenizer.EncodeSpans(text, !chat.StartsWithBOS(text, bos), spans)
	seq := e.NewSequence()
	defer seq.Close()
	var out []int32
	if _, err := seq.Generate(t.Context(), ids, engine.GenerateOptions{MaxTokens: maxTokens}, func(id int32) bool {
		if !e.Tokenizer.IsEOG(id) {
			out = append(out, id)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	for _, id := range out {
		raw = append(raw, e.Tokenizer.Piece(id, true)...)
	}
	ref := reference{raw: string(raw), prompt: len(ids)}
	p, err := chat.NewParser(format, chat.ParserOptions{StartInReasoning: chat.EndsInReasoning(text), TrimSpace: true})
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := p.Add(ref.raw)
	d2, _ := p.Finish()
	ref.reasoning, ref.content = jsonText(d1.Reasoning+d2.Reasoning), jsonText(d1.Content+d2.Content)
	return ref
}

// jsonText is s as it reads after a JSON round trip (each invalid UTF-8
// byte becomes U+FFFD, as encoding/json writes it).
func jsonText(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}

// rawFromLogprobs concatenates the bytes of the logprobs tokens: the exact
// generated text.
func rawFromLogprobs(t *testing.T, choice map[string]any) string {
	t.Helper()
	lp, ok := choice["logprobs"].(map[string]any)
	if !ok {
		t.Fatalf("no logprobs in %v", choice)
	}
	var b []byte
	for _, tok := range lp["content"].([]any) {
		for _, v := range tok.(map[string]any)["bytes"].([]any) {
			b = append(b, byte(v.(float64)))
		}
	}
	return string(b)
}

// str reads a string field ("" when absent or null).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// userMsgs is a one-turn conversation.
func userMsgs(text string) []map[string]any {
	return []map[string]any{{"role": "user", "content": text}}
}

func fmtMsg(i int) string { return fmt.Sprintf("Question %d: what is %d times %d?", i, i+2, 3*i+1) }
