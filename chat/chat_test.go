package chat

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	srcs := jinjaSources(t)
	want := map[string]string{
		"fixture-ds2-lite-tiny":                 FormatDeepSeekLLM,
		"fixture-ds3-tiny":                      FormatDeepSeekR1,
		"dsref-v3":                              FormatDeepSeekV3,
		"deepseek-v3.1":                         FormatDeepSeekV31,
		"ik-llama-deepseek-v3.1":                FormatDeepSeekV31,
		"ik-llama-deepseek-r1-distill-llama-8b": FormatDeepSeekR1,
		"ik-llama-deepseek-r1-distill-qwen-32b": FormatDeepSeekR1,
		"ik-llama-llama-cpp-deepseek-r1":        FormatDeepSeekR1,
		"ik-llama-deepseek-v3.2":                FormatDeepSeekV32,
	}
	for name, src := range srcs {
		w, ok := want[name]
		if !ok {
			t.Errorf("no expectation for template %s", name)
			continue
		}
		if got := Detect(src, "deepseek2"); got != w {
			t.Errorf("Detect(%s) = %q, want %q", name, got, w)
		}
	}
	for _, tc := range []struct{ src, arch, want string }{
		{"", "deepseek2", FormatDeepSeekV3},
		{"", "qwen2", FormatDeepSeekR1},
		{"  ", "llama", FormatDeepSeekR1},
		{"", "gpt2", ""},
		{"{{ messages }}", "deepseek2", ""},
	} {
		if got := Detect(tc.src, tc.arch); got != tc.want {
			t.Errorf("Detect(%q, %q) = %q, want %q", tc.src, tc.arch, got, tc.want)
		}
	}
}

func TestBOSAndReasoningHelpers(t *testing.T) {
	if !StartsWithBOS(TokBOS+"x", TokBOS) || StartsWithBOS("x"+TokBOS, TokBOS) || StartsWithBOS("x", "") {
		t.Fatal("StartsWithBOS")
	}
	for s, want := range map[string]bool{
		"<｜Assistant｜><think>\n": true, "<｜Assistant｜><think>": true,
		"<｜Assistant｜></think>": false, "<｜Assistant｜><think>\n</think>": false, "": false,
	} {
		if EndsInReasoning(s) != want {
			t.Errorf("EndsInReasoning(%q) != %v", s, want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	srcs := jinjaSources(t)
	v31, err := NewJinja(srcs["deepseek-v3.1"])
	if err != nil {
		t.Fatal(err)
	}
	renderers := map[string]Renderer{"jinja-v3.1": v31}
	for _, n := range []string{FormatDeepSeekLLM, FormatDeepSeekV3, FormatDeepSeekR1, FormatDeepSeekV31} {
		renderers[n], _ = Builtin(n)
	}
	bad := map[string][]Message{
		"unknown role":       {{Role: "developer", Content: "x"}},
		"calls in user turn": {{Role: "user", ToolCalls: []ToolCall{call("1", "f", "{}")}}},
		"unnamed call":       {{Role: "user"}, {Role: "assistant", ToolCalls: []ToolCall{call("1", "", "{}")}}},
		"prefix not last":    {{Role: "assistant", Content: "a", Prefix: true}, {Role: "user", Content: "u"}},
		"prefix on user":     {{Role: "user", Content: "u", Prefix: true}},
	}
	for rn, r := range renderers {
		for what, msgs := range bad {
			if _, err := r.Render(msgs, RenderOptions{}); err == nil {
				t.Errorf("%s: %s accepted", rn, what)
			}
		}
		badTool := []Tool{{Function: FunctionDef{Name: "f", Parameters: json.RawMessage(`{"a":`)}}}
		_, err := r.Render([]Message{{Role: "user", Content: "u"}}, RenderOptions{Tools: badTool})
		if err == nil {
			t.Errorf("%s: invalid tool parameters accepted", rn)
		}
	}
	if _, err := Builtin("deepseek-v9"); err == nil {
		t.Error("Builtin accepted an unknown name")
	}
	if _, err := NewJinja(""); err == nil {
		t.Error("NewJinja accepted an empty template")
	}
	if _, err := NewJinja("{% if %}"); err == nil {
		t.Error("NewJinja accepted a broken template")
	}
	tpl, err := NewJinja("{{ raise_exception('no system role') }}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tpl.Render(nil, RenderOptions{}); err == nil || !strings.Contains(err.Error(), "no system role") {
		t.Errorf("raise_exception: err = %v", err)
	}
}

func TestJinjaVariables(t *testing.T) {
	src := `{{ bos_token }}|{{ add_generation_prompt }}|{{ thinking is defined }}|{{ tools is none }}|` +
		`{{ messages[0].content is none }}|{{ messages[0].tool_calls[0].function.arguments }}|{{ custom }}|` +
		`{% for m in messages %}{{ m.role }}{% if m.reasoning_content is defined %}+r{% endif %}{% endfor %}|{{ strftime_now('%Y') | length }}`
	tpl, err := NewJinja(src)
	if err != nil {
		t.Fatal(err)
	}
	msgs := []Message{
		{Role: "assistant", ToolCalls: []ToolCall{call("1", "f", `{"b": 2, "a": 1}`)}},
		{Role: "assistant", Content: "x", ReasoningContent: "why"},
	}
	got, err := tpl.Render(msgs, RenderOptions{BOS: "<s>", AddGenerationPrompt: true, Vars: map[string]any{"custom": "kw"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<s>|True|False|True|True|{"b": 2, "a": 1}|kw|assistantassistant+r|4`; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// Tools reach templates that use them, with the schema's key order.
	tpl, _ = NewJinja(`{% for t in tools %}{{ t.function.name }}={{ t.function.parameters | tojson }}{% endfor %}{{ thinking }}{{ enable_thinking }}`)
	got, err = tpl.Render(nil, RenderOptions{Tools: weatherTools[1:], Thinking: ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `get_time={"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}TrueTrue`; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestForModel(t *testing.T) {
	srcs := jinjaSources(t)
	r, format, err := ForModel(srcs["fixture-ds3-tiny"], "deepseek2")
	if err != nil || format != FormatDeepSeekR1 {
		t.Fatalf("ForModel(R1 template) = %v, %q, %v", r, format, err)
	}
	if _, ok := r.(*Template); !ok {
		t.Errorf("ForModel with a good template returned %T", r)
	}
	// A template that cannot render falls back to the built-in of its family.
	broken := `<｜User｜><｜Assistant｜>{{ raise_exception('unsupported') }}`
	r, format, err = ForModel(broken, "deepseek2")
	if err != nil || format != FormatDeepSeekV3 {
		t.Fatalf("ForModel(broken) = %v, %q, %v", r, format, err)
	}
	if _, ok := r.(*Template); ok {
		t.Error("ForModel kept a template that cannot render")
	}
	r, format, err = ForModel("", "qwen2")
	if err != nil || format != FormatDeepSeekR1 {
		t.Fatalf("ForModel(no template, qwen2) = %v, %q, %v", r, format, err)
	}
	if _, _, err = ForModel("", "mamba"); err == nil {
		t.Error("ForModel without template or known architecture: no error")
	}
	if _, _, err = ForModel("{{ raise_exception('x') }}", "mamba"); err == nil {
		t.Error("ForModel with unusable unknown template: no error")
	}
}

func TestToolPrompt(t *testing.T) {
	if s, err := ToolPrompt(FormatDeepSeekV3, nil); s != "" || err != nil {
		t.Fatalf("no tools: %q, %v", s, err)
	}
	if _, err := ToolPrompt(FormatDeepSeekLLM, weatherTools); err == nil {
		t.Fatal("DeepSeek-LLM tool prompt: no error")
	}
	if _, err := ToolPrompt(FormatDeepSeekV31, []Tool{{}}); err == nil {
		t.Fatal("unnamed tool: no error")
	}
	// The syntax a tool prompt teaches is the syntax the parser reads.
	for _, format := range []string{FormatDeepSeekV3, FormatDeepSeekV31} {
		s, err := ToolPrompt(format, weatherTools)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(s, TokToolCallsBegin)
		j := strings.Index(s, TokToolCallsEnd)
		example := s[i : j+len(TokToolCallsEnd)]
		example = strings.ReplaceAll(example, "FUNCTION_NAME", "get_time")
		example = strings.ReplaceAll(example, "ARGUMENTS", `{"timezone": "UTC"}`)
		got := feed(t, format, ParserOptions{ToolsEnabled: true}, []string{example})
		if len(got.Calls) != 1 || got.Calls[0].Function.Name != "get_time" || got.Content != "" {
			t.Errorf("%s: tool prompt example parses as %#v", format, got)
		}
	}
}
