package openai

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

const okMsgs = `"messages":[{"role":"user","content":"hi"}]`

// TestChatRequestErrorsNameTheField: every malformed chat request is a 400
// whose param (and message) names the offending field.
func TestChatRequestErrorsNameTheField(t *testing.T) {
	cases := []struct{ body, param string }{
		{`{"messages":[]}`, "messages"},
		{`{}`, "messages"},
		{`{"messages":"hi"}`, "messages"},
		{`{"messages":[{"role":"wizard","content":"x"}]}`, "messages[0].role"},
		{`{"messages":[{"content":"x"}]}`, "messages[0].role"},
		{`{"messages":[{"role":"user"}]}`, "messages[0].content"},
		{`{"messages":[{"role":"user","content":5}]}`, "messages[0].content"},
		{`{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"},{"role":"user","content":[5]}]}`, "messages[2].content"},
		{`{"messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"text","text":5}]}]}`, "messages[1].content"},
		{`{"messages":[{"role":"user","content":"a"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":5}}]}]}`, "messages[1].tool_calls[1].function.name"},
		{`{` + okMsgs + `,"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g","description":5}}]}`, "tools[1].function.description"},
		{`{"messages":[{"role":"user","content":[{"type":"image_url"}]}]}`, "messages[0].content[0].type"},
		{`{"messages":[{"role":"user","content":"a"},{"role":"tool","content":"r"}]}`, "messages[1].tool_call_id"},
		{`{"messages":[{"role":"assistant","content":"a","prefix":true},{"role":"user","content":"b"}]}`, "messages[0].prefix"},
		{`{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"arguments":"{}"}}]}]}`, "messages[0].tool_calls[0].function.name"},
		{`{"messages":[{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{oops"}}]}]}`, "messages[0].tool_calls[0].function.arguments"},
		{`{` + okMsgs + `,"temperature":3}`, "temperature"},
		{`{` + okMsgs + `,"temperature":"hot"}`, "temperature"},
		{`{` + okMsgs + `,"top_p":1.5}`, "top_p"},
		{`{` + okMsgs + `,"presence_penalty":-2.5}`, "presence_penalty"},
		{`{` + okMsgs + `,"frequency_penalty":9}`, "frequency_penalty"},
		{`{` + okMsgs + `,"max_tokens":0}`, "max_tokens"},
		{`{` + okMsgs + `,"max_tokens":1.5}`, "max_tokens"},
		{`{` + okMsgs + `,"n":2}`, "n"},
		{`{` + okMsgs + `,"stop":5}`, "stop"},
		{`{` + okMsgs + `,"stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`, "stop"},
		{`{` + okMsgs + `,"top_logprobs":3}`, "top_logprobs"},
		{`{` + okMsgs + `,"logprobs":true,"top_logprobs":21}`, "top_logprobs"},
		{`{` + okMsgs + `,"tools":[{"type":"retrieval"}]}`, "tools[0].type"},
		{`{` + okMsgs + `,"tools":[{"type":"function","function":{"name":"bad name"}}]}`, "tools[0].function.name"},
		{`{` + okMsgs + `,"tools":[{"type":"function","function":{"name":"f","parameters":[]}}]}`, "tools[0].function.parameters"},
		{`{` + okMsgs + `,"tool_choice":"sometimes"}`, "tool_choice"},
		{`{` + okMsgs + `,"tool_choice":"required"}`, "tool_choice"},
		{`{` + okMsgs + `,"tool_choice":{"type":"function","function":{"name":"g"}},"tools":[{"type":"function","function":{"name":"f"}}]}`, "tool_choice.function.name"},
		{`{` + okMsgs + `,"tool_choice":{"type":"web"}}`, "tool_choice.type"},
		{`{` + okMsgs + `,"response_format":{"type":"xml"}}`, "response_format.type"},
		{`{` + okMsgs + `,"thinking":{"type":"maybe"}}`, "thinking.type"},
		{`{` + okMsgs + `,"reasoning_effort":"extreme"}`, "reasoning_effort"},
		{`{` + okMsgs + `,"stream":"yes"}`, "stream"},
		{`{` + okMsgs + `,"stream_options":{"include_usage":1}}`, "stream_options.include_usage"},
		{`[1,2]`, ""},
		{`{"messages": [`, ""},
		{``, ""},
	}
	for _, c := range cases {
		_, err := ParseChatRequest([]byte(c.body))
		if err == nil {
			t.Errorf("%s: accepted", c.body)
			continue
		}
		if err.Status != 400 || err.Type != TypeInvalidRequest {
			t.Errorf("%s: status %d type %s", c.body, err.Status, err.Type)
		}
		if err.Param != c.param {
			t.Errorf("%s: param %q, want %q (%s)", c.body, err.Param, c.param, err.Message)
		}
		if c.param != "" && !strings.Contains(err.Message, c.param) {
			t.Errorf("%s: message %q does not name %q", c.body, err.Message, c.param)
		}
	}
}

// TestChatRequestAccepts: the shapes real clients send parse, with the
// values where they belong.
func TestChatRequestAccepts(t *testing.T) {
	body := `{"model":"deepseek-chat","messages":[
		{"role":"system","content":"be brief"},
		{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
		{"role":"assistant","content":null,"reasoning_content":"hmm","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
		{"role":"tool","tool_call_id":"c1","content":"42"},
		{"role":"assistant","content":"The answer","prefix":true}],
		"stop":"END","temperature":null,"max_tokens":10,"logprobs":true,"top_logprobs":2,
		"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
		"tool_choice":{"type":"function","function":{"name":"f"}},
		"response_format":{"type":"json_object"},"thinking":{"type":"disabled"},
		"stream":true,"stream_options":{"include_usage":true},"user":"u1"}`
	r, err := ParseChatRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Messages[1].Content.Text; got != "a\nb" {
		t.Errorf("text parts joined %q", got)
	}
	if !r.Messages[2].Content.Missing() || string(r.Messages[2].ToolCalls[0].Function.Arguments) != `{"x":1}` {
		t.Errorf("assistant tool call %+v", r.Messages[2])
	}
	if len(r.Stop) != 1 || r.Stop[0] != "END" || r.Temperature != nil || r.MaxOutputTokens() != 10 {
		t.Errorf("stop %v temperature %v max %d", r.Stop, r.Temperature, r.MaxOutputTokens())
	}
	if r.ToolChoice.Mode != "function" || r.ToolChoice.Function != "f" {
		t.Errorf("tool_choice %+v", r.ToolChoice)
	}
	if th := r.ThinkingSwitch(); th == nil || *th {
		t.Errorf("thinking %v", th)
	}
	// Arguments given as an object are kept as JSON text.
	r, err = ParseChatRequest([]byte(`{"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":{"a": [1, 2]}}}]}]}`))
	if err != nil || r.Messages[0].ToolCalls[0].Function.Arguments != `{"a":[1,2]}` {
		t.Errorf("object arguments: %v %+v", err, r)
	}
}

// TestCompletionRequest covers the prompt shapes and the errors.
func TestCompletionRequest(t *testing.T) {
	for body, want := range map[string]Prompt{
		`{"prompt":"abc"}`:                   {Text: "abc", Count: 1},
		`{"prompt":["abc"]}`:                 {Text: "abc", Count: 1},
		`{"prompt":[1,2,3]}`:                 {Tokens: []int32{1, 2, 3}, Count: 1},
		`{"prompt":[[4,5]]}`:                 {Tokens: []int32{4, 5}, Count: 1},
		`{"prompt":"a","n":1}`:               {Text: "a", Count: 1},
		`{"prompt":"def f(", "suffix":"\n"}`: {Text: "def f(", Count: 1},
	} {
		r, err := ParseCompletionRequest([]byte(body))
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if r.Prompt.Text != want.Text || r.Prompt.Count != want.Count || len(r.Prompt.Tokens) != len(want.Tokens) {
			t.Errorf("%s: prompt %+v, want %+v", body, r.Prompt, want)
		}
	}
	for body, param := range map[string]string{
		`{}`:                                "prompt",
		`{"prompt":["a","b"]}`:              "prompt",
		`{"prompt":[]}`:                     "prompt",
		`{"prompt":{"x":1}}`:                "prompt",
		`{"prompt":[1,2],"suffix":"x"}`:     "suffix",
		`{"prompt":"a","logprobs":30}`:      "logprobs",
		`{"prompt":"a","best_of":3}`:        "best_of",
		`{"prompt":"a","max_tokens":-1}`:    "max_tokens",
		`{"prompt":"a","temperature":-0.1}`: "temperature",
		`{"prompt":"a","suffix":7}`:         "suffix",
	} {
		_, err := ParseCompletionRequest([]byte(body))
		if err == nil || err.Param != param {
			t.Errorf("%s: error %v, want param %q", body, err, param)
		}
	}
}

// TestMessagesRequest covers Anthropic requests.
func TestMessagesRequest(t *testing.T) {
	ok := `{"model":"m","max_tokens":100,"system":[{"type":"text","text":"sys"}],"messages":[
		{"role":"user","content":"hi"},
		{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":""},{"type":"tool_use","id":"tu1","name":"f","input":{"a":1}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":[{"type":"text","text":"res"}]}]}],
		"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto"},
		"thinking":{"type":"enabled","budget_tokens":1024},"stop_sequences":["X"]}`
	r, err := ParseMessagesRequest([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if r.System.Text != "sys" || r.Messages[2].Content.Blocks[0].Content.Text() != "res" {
		t.Errorf("parsed %+v", r)
	}
	for body, param := range map[string]string{
		`{"messages":[{"role":"user","content":"hi"}]}`:                                                         "max_tokens",
		`{"max_tokens":10,"messages":[]}`:                                                                       "messages",
		`{"max_tokens":10,"messages":[{"role":"system","content":"x"}]}`:                                        "messages[0].role",
		`{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image"}]}]}`:                           "messages[0].content[0].type",
		`{"max_tokens":10,"messages":[{"role":"user","content":[{"type":"tool_result"}]}]}`:                     "messages[0].content[0].tool_use_id",
		`{"max_tokens":10,"messages":[{"role":"user","content":"x"}],"temperature":1.5}`:                        "temperature",
		`{"max_tokens":10,"messages":[{"role":"user","content":"x"}],"tool_choice":{"type":"tool","name":"g"}}`: "tool_choice.name",
		`{"max_tokens":10,"messages":[{"role":"user","content":"x"}],"tools":[{"name":"f"}]}`:                   "tools[0].input_schema",
		`{"max_tokens":10,"messages":[{"role":"user","content":7}]}`:                                            "messages[0].content",
		`{"max_tokens":10,"messages":[{"role":"user","content":"x"},{"role":"assistant","content":7}]}`:         "messages[1].content",
	} {
		_, err := ParseMessagesRequest([]byte(body))
		if err == nil || err.Param != param {
			t.Errorf("%s: error %v, want param %q", body, err, param)
		}
	}
}

// TestUsageFields: the DeepSeek and OpenAI cache fields agree.
func TestUsageFields(t *testing.T) {
	b, _ := json.Marshal(NewUsage(100, 64, 10, 3))
	var m map[string]any
	json.Unmarshal(b, &m)
	want := map[string]float64{"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110, "prompt_cache_hit_tokens": 64, "prompt_cache_miss_tokens": 36}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %v, want %v", k, m[k], v)
		}
	}
	if d := m["prompt_tokens_details"].(map[string]any); d["cached_tokens"] != 64.0 {
		t.Errorf("cached_tokens %v", d)
	}
}

// FuzzParseRequests: no body makes a parser panic, and every refusal is a
// 400 with a message.
func FuzzParseRequests(f *testing.F) {
	f.Add([]byte(`{"messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto","stop":["x"]}`))
	f.Add([]byte(`{"prompt":[[1,2]],"suffix":"s","logprobs":2}`))
	f.Add([]byte(`{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"x"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, parse := range []func([]byte) *Error{
			func(b []byte) *Error { _, e := ParseChatRequest(b); return e },
			func(b []byte) *Error { _, e := ParseCompletionRequest(b); return e },
			func(b []byte) *Error { _, e := ParseMessagesRequest(b); return e },
		} {
			if e := parse(data); e != nil && (e.Status != 400 || e.Message == "") {
				t.Fatalf("error %+v", e)
			}
		}
	})
}

// TestContentPartErrorSaysWhy: an array content with a bad element used to
// answer "expected ... an array of content parts, got array", which names the
// right kind and so explains nothing; the message must say which element is
// wrong and how.
func TestContentPartErrorSaysWhy(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":[{"role":"user","content":[5]}]}`:                              "got an array holding a number at [0]",
		`{"messages":[{"role":"user","content":[{"type":"text","text":"a"},"b"]}]}`: "got an array holding a string at [1]",
		`{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`:       "got an array whose part [0] has a number text",
	} {
		_, err := ParseChatRequest([]byte(body))
		if err == nil || !strings.Contains(err.Message, want) || err.Param != "messages[0].content" {
			t.Errorf("%s: error %v, want param messages[0].content and %q", body, err, want)
		}
	}
}

// TestAnthropicBlocksRefusedOrExplained: image blocks in the system prompt or
// inside a tool_result used to be dropped silently (the answer ignored them
// with a 200); a malformed block array said only "got array".
func TestAnthropicBlocksRefusedOrExplained(t *testing.T) {
	for body, want := range map[string][2]string{
		`{"max_tokens":5,"system":[{"type":"text","text":"a"},{"type":"image","source":{}}],"messages":[{"role":"user","content":"x"}]}`:  {"system[1].type", `"image" blocks are not supported`},
		`{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"image"}]}]}]}`: {"messages[0].content[0].content[0].type", `"image" blocks are not supported`},
		`{"max_tokens":5,"messages":[{"role":"user","content":"a"},{"role":"assistant","content":[5]}]}`:                                  {"messages[1].content", "got an array holding a number at [0]"},
		`{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":7}]}]}`:                                              {"messages[0].content", "block [0] has a number text"},
		`{"max_tokens":5,"system":[{"type":"text","text":7}],"messages":[{"role":"user","content":"x"}]}`:                                 {"system", "block [0] has a number text"},
	} {
		_, err := ParseMessagesRequest([]byte(body))
		if err == nil || err.Param != want[0] || !strings.Contains(err.Message, want[1]) {
			t.Errorf("%s: error %v, want param %q and %q", body, err, want[0], want[1])
		}
	}
	// text-only system blocks and tool results still pass
	ok := `{"max_tokens":5,"system":[{"type":"text","text":"a"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}]}`
	if _, err := ParseMessagesRequest([]byte(ok)); err != nil {
		t.Errorf("%s: %v", ok, err)
	}
}

// TestLogitBias: logit_bias parses as token id → bias; a key that is not a
// token id or a value that is not a finite number in [-100, 100] is a 400
// naming logit_bias, on both endpoints.
func TestLogitBias(t *testing.T) {
	r, err := ParseChatRequest([]byte(`{` + okMsgs + `,"logit_bias":{"15":-100,"7":2.5,"0":100}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.LogitBias) != 3 || r.LogitBias[15] != -100 || r.LogitBias[7] != 2.5 || r.LogitBias[0] != 100 {
		t.Errorf("logit_bias %v", r.LogitBias)
	}
	if r, err := ParseChatRequest([]byte(`{` + okMsgs + `,"logit_bias":null}`)); err != nil || r.LogitBias != nil {
		t.Errorf("null logit_bias: %v %v", r, err)
	}
	for _, bias := range []string{
		`{"x":"NaN"}`, `{"x":1}`, `{"1":"NaN"}`, `{"1":101}`, `{"1":-100.5}`, `{"1":1e999}`, `{"-1":1}`,
		`{"1.5":1}`, `{"99999999999":1}`, `{"1":null}`, `{"1":true}`, `{"1":[1]}`, `{"1":1,"01":2}`, `[1]`, `"x"`, `5`,
		`{"05":1}`, `{"+5":1}`, `{" 5":1}`, `{"":1}`, manyBias(MaxLogitBiasEntries + 1),
	} {
		for _, body := range []string{`{` + okMsgs + `,"logit_bias":` + bias + `}`, `{"prompt":"a","logit_bias":` + bias + `}`} {
			var err *Error
			if strings.Contains(body, "messages") {
				_, err = ParseChatRequest([]byte(body))
			} else {
				_, err = ParseCompletionRequest([]byte(body))
			}
			if err == nil || err.Status != 400 || err.Param != "logit_bias" || !strings.HasPrefix(err.Message, "logit_bias: ") {
				t.Errorf("%s: error %+v, want a 400 naming logit_bias", body, err)
			}
		}
	}
}

// manyBias is a logit_bias object of n distinct entries.
func manyBias(n int) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%d":1`, i)
	}
	b.WriteByte('}')
	return b.String()
}

// TestCompletionMaxTokensZero: max_tokens 0 is allowed only with echo (the
// prompt alone); negative values never are.
func TestCompletionMaxTokensZero(t *testing.T) {
	if _, err := ParseCompletionRequest([]byte(`{"prompt":"a","max_tokens":0,"echo":true}`)); err != nil {
		t.Errorf("max_tokens 0 with echo: %v", err)
	}
	if _, err := ParseCompletionRequest([]byte(`{"prompt":[1,2],"max_tokens":0,"echo":true}`)); err != nil {
		t.Errorf("max_tokens 0 with echo and a token prompt: %v", err)
	}
	for _, body := range []string{`{"prompt":"a","max_tokens":0}`, `{"prompt":"a","max_tokens":-1,"echo":true}`} {
		if _, err := ParseCompletionRequest([]byte(body)); err == nil || err.Param != "max_tokens" {
			t.Errorf("%s: error %v, want max_tokens", body, err)
		}
	}
}

// TestAnthropicErrorTypes: errors on /v1/messages carry only Anthropic's
// documented error types.
func TestAnthropicErrorTypes(t *testing.T) {
	for _, c := range []struct {
		e    Error
		want string
	}{
		{Error{Status: 400, Type: TypeInvalidRequest}, "invalid_request_error"},
		{Error{Status: 408, Type: TypeInvalidRequest}, "invalid_request_error"},
		{Error{Status: 401, Type: TypeAuthentication}, "authentication_error"},
		{Error{Status: 403}, "permission_error"},
		{Error{Status: 404, Type: TypeNotFound}, "not_found_error"},
		{Error{Status: 413, Type: TypeInvalidRequest}, "request_too_large"},
		{Error{Status: 429, Type: TypeRateLimit}, "rate_limit_error"},
		{Error{Status: 500, Type: TypeServer}, "api_error"},
		{Error{Type: TypeServer}, "api_error"},
		{Error{Status: 503, Type: TypeOverloaded}, "overloaded_error"},
	} {
		if got := c.e.Anthropic(); got.Type != "error" || got.Error.Type != c.want {
			t.Errorf("%d %s: Anthropic type %q, want %q", c.e.Status, c.e.Type, got.Error.Type, c.want)
		}
	}
}
