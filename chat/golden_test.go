package chat

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func ptr[T any](v T) *T { return &v }

var weatherTools = []Tool{
	{Type: "function", Function: FunctionDef{
		Name: "get_weather", Description: "Get the current weather in a city.",
		Parameters: json.RawMessage(`{"type": "object", "properties": {"city": {"type": "string", "description": "City name"}}, "required": ["city"]}`),
	}},
	{Type: "function", Function: FunctionDef{
		Name: "get_time", Description: "Get the local time in a time zone.",
		Parameters: json.RawMessage(`{"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}`),
	}},
}

func call(id, name, args string) ToolCall {
	return ToolCall{ID: id, Type: "function", Function: FunctionCall{Name: name, Arguments: args}}
}

// shape is one conversation rendered for every renderer.
type shape struct {
	name string
	msgs []Message
	opts RenderOptions
}

// shapes returns the conversations of the golden files. BOS/EOS are the
// DeepSeek texts (the same in the DeepSeek-LLM/V2 and V3 vocabularies).
func shapes() []shape {
	o := func(mod func(*RenderOptions)) RenderOptions {
		r := RenderOptions{AddGenerationPrompt: true, BOS: TokBOS, EOS: TokEOS}
		if mod != nil {
			mod(&r)
		}
		return r
	}
	haiku := Message{Role: "user", Content: "Write a haiku about the sea."}
	return []shape{
		{"user", []Message{haiku}, o(nil)},
		{"system-user", []Message{{Role: "system", Content: "You are a helpful assistant."}, haiku}, o(nil)},
		{"user-assistant-user", []Message{
			{Role: "user", Content: "Hi!"},
			{Role: "assistant", Content: "Hello! How can I help you today?", ReasoningContent: "The user greets me."},
			{Role: "user", Content: "What is 2+2?"},
		}, o(nil)},
		{"history-with-think", []Message{
			{Role: "user", Content: "What is 2+2?"},
			{Role: "assistant", Content: "<think>\nA simple sum.\n</think>\n\n2+2 = 4."},
			{Role: "user", Content: "And 3+3?"},
		}, o(nil)},
		{"tools", []Message{
			{Role: "system", Content: "You are a helpful assistant."},
			{Role: "user", Content: "What's the weather in Paris and the time in Tokyo?"},
			{Role: "assistant", ToolCalls: []ToolCall{
				call("call_1", "get_weather", `{"city": "Paris"}`),
				call("call_2", "get_time", `{"timezone": "Asia/Tokyo"}`),
			}},
			{Role: "tool", ToolCallID: "call_1", Content: "18°C, cloudy"},
			{Role: "tool", ToolCallID: "call_2", Content: "21:04"},
			{Role: "assistant", Content: "It is 18°C and cloudy in Paris, and 21:04 in Tokyo."},
			{Role: "user", Content: "Thanks!"},
		}, o(func(r *RenderOptions) { r.Tools = weatherTools })},
		{"tool-result-last", []Message{
			{Role: "user", Content: "What's the weather in Paris?"},
			{Role: "assistant", ToolCalls: []ToolCall{call("call_1", "get_weather", `{"city": "Paris"}`)}},
			{Role: "tool", ToolCallID: "call_1", Content: "18°C, cloudy"},
		}, o(func(r *RenderOptions) { r.Tools = weatherTools })},
		{"thinking-on", []Message{haiku}, o(func(r *RenderOptions) { r.Thinking = ptr(true) })},
		{"thinking-off", []Message{haiku}, o(func(r *RenderOptions) { r.Thinking = ptr(false) })},
		{"prefix", []Message{
			{Role: "user", Content: "Print hello in Python."},
			{Role: "assistant", Content: "```python\n", Prefix: true},
		}, o(func(r *RenderOptions) { r.Thinking = ptr(true) })},
	}
}

// subject is one renderer with a golden directory.
type subject struct {
	dir string // testdata/<dir>/<shape>.txt
	r   Renderer
	src string // template source ("" for built-ins)
}

// jinjaSources returns the templates rendered through NewJinja: the fixture
// models' own templates and the real templates in testdata/templates.
func jinjaSources(t testing.TB) map[string]string {
	t.Helper()
	fx := fixturesDir(t)
	var tc struct {
		ChatTemplate string `json:"chat_template"`
	}
	readJSON(t, filepath.Join(fx, "dsref", "tokenizer", "tokenizer_config.json"), &tc)
	src := map[string]string{
		"fixture-ds2-lite-tiny": ggufString(t, filepath.Join(fx, "models", "ds2-lite-tiny-Q4_K_M.gguf"), "tokenizer.chat_template"),
		"fixture-ds3-tiny":      ggufString(t, filepath.Join(fx, "models", "ds3-tiny-F16.gguf"), "tokenizer.chat_template"),
		"dsref-v3":              tc.ChatTemplate,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "templates", "*.jinja"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no templates in testdata/templates: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src[strings.TrimSuffix(filepath.Base(f), ".jinja")] = string(b)
	}
	return src
}

func subjects(t *testing.T) []subject {
	t.Helper()
	var out []subject
	for _, name := range []string{FormatDeepSeekLLM, FormatDeepSeekV3, FormatDeepSeekR1, FormatDeepSeekV31} {
		r, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, subject{dir: "builtin-" + name, r: r})
	}
	srcs := jinjaSources(t)
	names := make([]string, 0, len(srcs))
	for n := range srcs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		tpl, err := NewJinja(srcs[n])
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		out = append(out, subject{dir: "jinja-" + n, r: tpl, src: srcs[n]})
	}
	return out
}

// render renders a shape; an error is recorded as the text "error: ...".
func render(r Renderer, s shape) string {
	out, err := r.Render(s.msgs, s.opts)
	if err != nil {
		return "error: " + err.Error()
	}
	return out
}

// TestGolden renders every shape with every renderer and compares with
// testdata/<renderer>/<shape>.txt; `go test ./chat -update` rewrites them.
// The files were reviewed by hand against the templates' rules when written.
func TestGolden(t *testing.T) {
	for _, sub := range subjects(t) {
		for _, s := range shapes() {
			got := render(sub.r, s)
			path := filepath.Join("testdata", sub.dir, s.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%s: %v (run go test ./chat -update)", path, err)
				continue
			}
			if got != string(want) {
				t.Errorf("%s differs:\n got %q\nwant %q", path, got, want)
			}
			if !strings.HasPrefix(got, "error: ") {
				if n := strings.Count(got, TokBOS); n != 1 || !StartsWithBOS(got, TokBOS) {
					t.Errorf("%s: BOS appears %d times (must be once, at the start)", path, n)
				}
			}
		}
	}
}
