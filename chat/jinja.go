package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// Template is a compiled Jinja chat template (a GGUF file's
// tokenizer.chat_template or a Hugging Face tokenizer_config.json
// chat_template). It is safe for concurrent use.
//
// Rendering follows transformers' apply_chat_template: trim_blocks and
// lstrip_blocks on; variables messages, tools (none when empty),
// add_generation_prompt, bos_token, eos_token, thinking and enable_thinking
// (only when RenderOptions.Thinking is set, so the template's default
// applies otherwise) and RenderOptions.Vars. The engine is
// github.com/ardanlabs/jinja; known difference from Python Jinja2: str.split
// ignores its maxsplit argument (V3.1's content.split('</think>', 1)[1]
// differs only when a history turn holds two "</think>").
type Template struct {
	src        string
	tpl        *jinja.Template
	format     string // Detect(src, ""), for the tool prompt
	usesTools  bool   // the template reads the `tools` variable
	objectArgs bool   // the template pipes tool-call arguments through tojson
}

var toolsVar = regexp.MustCompile(`\btools\b`)

// argsProbe is a conversation with one tool call whose arguments contain a
// marker key; see needsObjectArgs.
var argsProbe = []Message{
	{Role: "user", Content: "u"},
	{Role: "assistant", ToolCalls: []ToolCall{{Type: "function", Function: FunctionCall{Name: "probe_fn", Arguments: `{"probe_arg":1}`}}}},
	{Role: "tool", Content: "r"},
	{Role: "user", Content: "u"},
}

// NewJinja compiles a Jinja chat template. It returns an error if src is
// empty or does not parse.
func NewJinja(src string) (t *Template, err error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("chat: empty chat template")
	}
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("chat: compile template: panic: %v", r)
		}
	}()
	if err := checkTemplate(src); err != nil {
		return nil, err
	}
	tpl, err := jinja.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("chat: compile template: %w", err)
	}
	t = &Template{src: src, tpl: tpl, format: Detect(src, ""), usesTools: toolsVar.MatchString(src)}
	t.objectArgs = t.needsObjectArgs()
	return t, nil
}

// needsObjectArgs reports whether the template serialises tool-call
// arguments itself (e.g. `arguments | tojson`, as llama.cpp's edited
// templates do): rendered with arguments as JSON text, such a template writes
// them JSON-quoted. llama.cpp detects this the same way, by rendering a probe
// (minja chat-template caps, requires_object_arguments).
func (t *Template) needsObjectArgs() bool {
	ctx, err := t.context(argsProbe, RenderOptions{AddGenerationPrompt: true})
	if err != nil {
		return false
	}
	out, err := t.safeRender(ctx)
	return err == nil && strings.Contains(out, `"{\"probe_arg\"`)
}

// safeRender renders with the given variables, turning a panic of the
// template engine into an error.
func (t *Template) safeRender(ctx map[string]jinja.Value) (out string, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("panic: %v", r)
		}
	}()
	ctx["range"] = boundedRange(time.Now().Add(renderBudget))
	return t.tpl.RenderValues(ctx)
}

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Format returns the DeepSeek family Detect finds in the template, or "".
func (t *Template) Format() string { return t.format }

// Render renders msgs with the template. When opts.Tools is set and the
// template does not read `tools` (the official DeepSeek templates do not),
// ToolPrompt's text for the template's family is appended to the system
// prompt first; for a family without tool syntax that is an error. When the
// last message is a Prefix turn, add_generation_prompt is false and a
// trailing EOS the template wrote after the turn is removed, so the model
// continues it. Errors: invalid conversation (see
// Renderer), invalid tool JSON, a template error or raise_exception.
func (t *Template) Render(msgs []Message, opts RenderOptions) (string, error) {
	if err := validate(msgs); err != nil {
		return "", err
	}
	if len(opts.Tools) > 0 && !t.usesTools {
		var err error
		if msgs, err = withToolPrompt(msgs, t.format, opts.Tools); err != nil {
			return "", err
		}
	}
	if isPrefixed(msgs) {
		opts.AddGenerationPrompt = false // the model continues the prefix turn
	}
	ctx, err := t.context(msgs, opts)
	if err != nil {
		return "", err
	}
	out, err := t.safeRender(ctx)
	if err != nil {
		return "", fmt.Errorf("chat: render template: %w", err)
	}
	if isPrefixed(msgs) {
		out = strings.TrimSuffix(out, TokEOS)
		if opts.EOS != "" {
			out = strings.TrimSuffix(out, opts.EOS)
		}
	}
	return out, nil
}

// context builds the template variables.
func (t *Template) context(msgs []Message, opts RenderOptions) (map[string]jinja.Value, error) {
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		v, err := t.messageValue(m)
		if err != nil {
			return nil, fmt.Errorf("chat: message %d: %w", i, err)
		}
		list[i] = v
	}
	ctx := map[string]jinja.Value{
		"messages":              jinja.NewList(list),
		"add_generation_prompt": jinja.NewBool(opts.AddGenerationPrompt),
		"bos_token":             jinja.NewString(opts.BOS),
		"eos_token":             jinja.NewString(opts.EOS),
		"tools":                 jinja.None(),
	}
	if len(opts.Tools) > 0 && t.usesTools {
		tools, err := toolsValue(opts.Tools)
		if err != nil {
			return nil, err
		}
		ctx["tools"] = tools
	}
	if opts.Thinking != nil {
		ctx["thinking"] = jinja.NewBool(*opts.Thinking)
		ctx["enable_thinking"] = jinja.NewBool(*opts.Thinking)
	}
	for k, v := range opts.Vars {
		ctx[k] = jinja.FromGoValue(v)
	}
	return ctx, nil
}

// messageValue converts one message to the dict HF templates read. content
// is none for an assistant turn that only calls tools; optional keys are
// present only when set, so `is defined` tests behave as with HF requests.
func (t *Template) messageValue(m Message) (jinja.Value, error) {
	d := jinja.NewDict()
	dd := d.AsDict()
	dd.Set("role", jinja.NewString(m.Role))
	if m.Content == "" && len(m.ToolCalls) > 0 {
		dd.Set("content", jinja.None())
	} else {
		dd.Set("content", jinja.NewString(m.Content))
	}
	if m.ReasoningContent != "" {
		dd.Set("reasoning_content", jinja.NewString(m.ReasoningContent))
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]jinja.Value, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			cv, err := t.toolCallValue(c)
			if err != nil {
				return jinja.Value{}, err
			}
			calls[i] = cv
		}
		dd.Set("tool_calls", jinja.NewList(calls))
	}
	if m.ToolCallID != "" {
		dd.Set("tool_call_id", jinja.NewString(m.ToolCallID))
	}
	if m.Name != "" {
		dd.Set("name", jinja.NewString(m.Name))
	}
	if m.Prefix {
		dd.Set("prefix", jinja.NewBool(true))
	}
	return d, nil
}

// toolCallValue converts a tool call. Arguments stay JSON text (as in the
// OpenAI API and HF requests) unless the template pipes them through tojson,
// in which case they are given as a parsed object, as llama.cpp does for such
// templates, so they are not double-encoded.
func (t *Template) toolCallValue(c ToolCall) (jinja.Value, error) {
	typ := c.Type
	if typ == "" {
		typ = "function"
	}
	args := jinja.NewString(c.Function.Arguments)
	if t.objectArgs {
		if v, err := jsonValue([]byte(c.Function.Arguments)); err == nil && v.IsDict() {
			args = v
		}
	}
	fn := jinja.NewDict()
	fn.AsDict().Set("name", jinja.NewString(c.Function.Name))
	fn.AsDict().Set("arguments", args)
	d := jinja.NewDict()
	if c.ID != "" {
		d.AsDict().Set("id", jinja.NewString(c.ID))
	}
	d.AsDict().Set("type", jinja.NewString(typ))
	d.AsDict().Set("function", fn)
	return d, nil
}

// toolsValue converts tool definitions to the list HF templates read, with
// the parameters schema as an ordered dict.
func toolsValue(tools []Tool) (jinja.Value, error) {
	list := make([]jinja.Value, len(tools))
	for i, tl := range tools {
		fn := jinja.NewDict()
		fd := fn.AsDict()
		fd.Set("name", jinja.NewString(tl.Function.Name))
		fd.Set("description", jinja.NewString(tl.Function.Description))
		if len(tl.Function.Parameters) > 0 {
			p, err := jsonValue(tl.Function.Parameters)
			if err != nil {
				return jinja.Value{}, fmt.Errorf("chat: tool %q parameters: %w", tl.Function.Name, err)
			}
			fd.Set("parameters", p)
		}
		typ := tl.Type
		if typ == "" {
			typ = "function"
		}
		d := jinja.NewDict()
		d.AsDict().Set("type", jinja.NewString(typ))
		d.AsDict().Set("function", fn)
		list[i] = d
	}
	return jinja.NewList(list), nil
}

// jsonValue decodes one JSON value into a template value, keeping object key
// order and integer/float distinction. Trailing data is an error.
func jsonValue(raw []byte) (jinja.Value, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return jinja.Value{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jinja.Value{}, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// decodeValue reads the next JSON value from dec.
func decodeValue(dec *json.Decoder) (jinja.Value, error) {
	tok, err := dec.Token()
	if err != nil {
		return jinja.Value{}, err
	}
	switch x := tok.(type) {
	case json.Delim:
		switch x {
		case '{':
			d := jinja.NewDict()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return jinja.Value{}, err
				}
				k, _ := kt.(string)
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				d.AsDict().Set(k, v)
			}
			_, err = dec.Token() // '}'
			return d, err
		case '[':
			var items []jinja.Value
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return jinja.Value{}, err
				}
				items = append(items, v)
			}
			_, err = dec.Token() // ']'
			return jinja.NewList(items), err
		}
		return jinja.Value{}, fmt.Errorf("unexpected delimiter %v", x)
	case nil:
		return jinja.None(), nil
	default:
		return jinja.FromGoValue(x), nil // bool, string, json.Number
	}
}
