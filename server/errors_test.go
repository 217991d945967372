package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// internalPrefix matches a Go package prefix in an error message.
var internalPrefix = regexp.MustCompile(`\b(engine|sampler|model|kernels|kvcache|tokenizer|chat|server|gguf): `)

// apiError is an OpenAI or Anthropic error body.
type apiError struct {
	Type  string `json:"type"`
	Error struct {
		Message, Type, Param, Code string
	} `json:"error"`
}

// postError posts body and decodes the error response.
func (ts *testServer) postError(path, body string) (int, apiError) {
	ts.t.Helper()
	resp := ts.do("POST", path, body)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e apiError
	if err := json.Unmarshal(raw, &e); err != nil {
		ts.t.Fatalf("%s: error body %q", path, raw)
	}
	return resp.StatusCode, e
}

// TestErrorMessagesAreClean: errors from the scheduler reach clients
// without Go package prefixes ("engine: ..."), with param naming the field
// and numbers that say what is wrong; Anthropic's error types are used on
// /v1/messages (request_too_large for a 413).
func TestErrorMessagesAreClean(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{}, Options{MaxBodyBytes: 4096})
	lim := ts.sched.MaxSeqLen()
	nv := ts.e.Model.Config.NVocab
	long := `[` + strings.Repeat("5, ", lim+9) + `5]`
	for _, c := range []struct {
		path, body, param, code, want string
	}{
		{"/v1/completions", `{"prompt": [1, 999999]}`, "prompt", "", "prompt: token id 999999 at prompt index 1 is outside the vocabulary [0, " + itoa(nv) + ")"},
		{"/v1/completions", `{"prompt": ` + long + `}`, "prompt", "context_length_exceeded", "the prompt is " + itoa(lim+10) + " tokens, longer than the context of " + itoa(lim) + " tokens"},
		{"/v1/completions", `{"prompt": [` + strings.Repeat("5, ", lim-1) + `5]}`, "prompt", "context_length_exceeded", "the prompt is " + itoa(lim) + " tokens, the whole context of " + itoa(lim) + " tokens, leaving no room for the completion"},
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "` + strings.Repeat("long ", 300) + `"}]}`, "messages", "context_length_exceeded", "the prompt is "},
		{"/v1/messages", `{"max_tokens": 5, "messages": [{"role": "user", "content": "` + strings.Repeat("long ", 300) + `"}]}`, "", "", "the prompt is "},
	} {
		code, e := ts.postError(c.path, c.body)
		msg := e.Error.Message
		if code != 400 || internalPrefix.MatchString(msg) || !strings.HasPrefix(msg, c.want) {
			t.Errorf("%s %.50s: %d %q, want a 400 %q... without package prefixes", c.path, c.body, code, msg, c.want)
		}
		if strings.HasSuffix(c.path, "/messages") {
			if e.Type != "error" || e.Error.Type != "invalid_request_error" {
				t.Errorf("%s: Anthropic error %+v", c.path, e)
			}
		} else if e.Error.Param != c.param || (c.code != "" && e.Error.Code != c.code) {
			t.Errorf("%s %.50s: param %q code %q, want %q %q", c.path, c.body, e.Error.Param, e.Error.Code, c.param, c.code)
		}
	}
	code, e := ts.postError("/v1/messages", `{"max_tokens": 5, "messages": [{"role": "user", "content": "`+strings.Repeat("x", 5000)+`"}]}`)
	if code != 413 || e.Type != "error" || e.Error.Type != "request_too_large" {
		t.Errorf("/v1/messages with a body over the limit: %d %+v, want 413 request_too_large", code, e)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestNaNModelIs500: a model whose output is NaN fails every generation
// with a 500 saying there is no finite logit to sample from, in each API's
// shape (Anthropic's api_error), streamed or not, without package
// prefixes.
func TestNaNModelIs500(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "nan.gguf")
	nanTensor(t, filepath.Join(dir, "models", "qwen2-tiny-F16.gguf"), path, "output_norm.weight")
	e, err := engine.Load(context.Background(), path, engine.Options{CtxSize: 1024, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	sched, err := engine.NewScheduler(e, engine.SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(e, sched, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{t: t, e: e, sched: sched, srv: srv, http: httptest.NewServer(srv)}
	defer func() {
		ts.http.Close()
		sched.Shutdown(context.Background())
		e.Close()
	}()
	const want = "no finite logit to sample from"
	for _, c := range []struct{ path, body, errType string }{
		{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}`, "server_error"},
		{"/v1/completions", `{"prompt": "hi", "max_tokens": 4, "temperature": 0}`, "server_error"},
		{"/v1/messages", `{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}`, "api_error"},
	} {
		code, ae := ts.postError(c.path, c.body)
		if code != 500 || ae.Error.Type != c.errType || !strings.HasPrefix(ae.Error.Message, want) || internalPrefix.MatchString(ae.Error.Message) {
			t.Errorf("%s: %d %+v, want a 500 %s %q", c.path, code, ae, c.errType, want)
		}
		// Streamed: the error arrives as an event after the 200.
		r := ts.do("POST", c.path, strings.Replace(c.body, "{", `{"stream": true, `, 1))
		events := sseEvents(t, r.Body)
		r.Body.Close()
		found := false
		for _, ev := range events {
			var se apiError
			if json.Unmarshal([]byte(ev[1]), &se) == nil && se.Error.Message != "" {
				found = true
				if se.Error.Type != c.errType || !strings.HasPrefix(se.Error.Message, want) || internalPrefix.MatchString(se.Error.Message) {
					t.Errorf("%s streamed: error event %s, want %s %q", c.path, ev[1], c.errType, want)
				}
				if c.errType == "api_error" && (ev[0] != "error" || se.Type != "error") {
					t.Errorf("%s streamed: error event %q %s, want Anthropic's error event", c.path, ev[0], ev[1])
				}
			}
		}
		if !found {
			t.Errorf("%s streamed: no error event in %v", c.path, events)
		}
	}
}

// nanTensor copies the GGUF src to dst with every value of the named F32
// or F16 tensor set to NaN.
func nanTensor(t *testing.T, src, dst, name string) {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := gguf.NewWriter(out)
	for _, kv := range f.KVs {
		v := kv.Value
		if a, ok := v.(gguf.Array); ok {
			v = a.Values
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	datas := make([][]byte, len(f.Tensors))
	found := false
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		data, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		if ti.Name == name {
			found = true
			data = append([]byte(nil), data...)
			switch ti.Type {
			case dtype.F32:
				for j := 0; j+4 <= len(data); j += 4 {
					binary.LittleEndian.PutUint32(data[j:], math.Float32bits(float32(math.NaN())))
				}
			case dtype.F16:
				for j := 0; j+2 <= len(data); j += 2 {
					binary.LittleEndian.PutUint16(data[j:], 0x7e00)
				}
			default:
				t.Fatalf("%s is %v, not F32 or F16", name, ti.Type)
			}
		}
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims); err != nil {
			t.Fatal(err)
		}
		datas[i] = data
	}
	if !found {
		t.Fatalf("%s has no tensor %s", src, name)
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for i := range f.Tensors {
		if err := w.WriteTensorData(f.Tensors[i].Name, datas[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
