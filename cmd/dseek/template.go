package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/store"
	"github.com/dseek-ai/dseek/tokenizer"
)

func init() { extraCommands = append(extraCommands, newTemplateCmd) }

// wireMessage is a message as OpenAI/DeepSeek clients send it.
type wireMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent string          `json:"reasoning_content"`
	ToolCalls        []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Function struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
	ToolCallID string `json:"tool_call_id"`
	Name       string `json:"name"`
	Prefix     bool   `json:"prefix"`
}

// readJSONInput reads the file named by a --messages/--tools flag; "-" is
// stdin.
func readJSONInput(cmd *cobra.Command, path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(cmd.InOrStdin())
	}
	return os.ReadFile(path)
}

// jsonKind names the kind of a JSON value for error messages: "an object",
// "a string", ... (json's own messages name Go types such as
// []main.wireMessage).
func jsonKind(raw []byte) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonArray splits raw, which must be a JSON array, into its elements.
// flag and what name the input in errors ("--messages", "messages").
func jsonArray(raw []byte, flag, what string) ([]json.RawMessage, error) {
	var items []json.RawMessage
	if k := jsonKind(raw); k != "an array" {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("%s: not valid JSON (want a JSON array of %s)", flag, what)
		}
		return nil, fmt.Errorf("%s: want a JSON array of %s, got %s", flag, what, k)
	}
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("%s: not valid JSON (want a JSON array of %s): %v", flag, what, jsonError(err))
	}
	return items, nil
}

// jsonError rewrites json's type errors without Go type names.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Errorf("%s: unexpected JSON %s", te.Field, te.Value)
		}
		return fmt.Errorf("unexpected JSON %s", te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	return err
}

// readMessages parses an OpenAI-style JSON array of messages from the file
// path ("-" = stdin). Role "developer" is taken as "system", as the API does.
func readMessages(cmd *cobra.Command, path string) ([]chat.Message, error) {
	b, err := readJSONInput(cmd, path)
	if err != nil {
		return nil, fmt.Errorf("--messages: %w", err)
	}
	items, err := jsonArray(b, "--messages", "messages")
	if err != nil {
		return nil, err
	}
	msgs := make([]chat.Message, len(items))
	for i, raw := range items {
		if k := jsonKind(raw); k != "an object" {
			return nil, fmt.Errorf("--messages: messages[%d]: want an object {\"role\": ..., \"content\": ...}, got %s", i, k)
		}
		var w wireMessage
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("--messages: messages[%d]: %v", i, jsonError(err))
		}
		switch w.Role {
		case "system", "user", "assistant", "tool":
		case "developer":
			w.Role = "system" // OpenAI's newer name for system, as the server maps it
		default:
			return nil, fmt.Errorf("--messages: messages[%d].role %q: want system, developer, user, assistant or tool", i, w.Role)
		}
		text, err := contentText(w.Content)
		if err != nil {
			return nil, fmt.Errorf("--messages: messages[%d].content: %w", i, err)
		}
		m := chat.Message{Role: w.Role, Content: text, ReasoningContent: w.ReasoningContent, ToolCallID: w.ToolCallID, Name: w.Name, Prefix: w.Prefix}
		for _, tc := range w.ToolCalls {
			args := string(tc.Function.Arguments)
			var s string
			if json.Unmarshal(tc.Function.Arguments, &s) == nil {
				args = s // arguments given as a JSON string, as OpenAI does
			}
			m.ToolCalls = append(m.ToolCalls, chat.ToolCall{ID: tc.ID, Type: tc.Type, Function: chat.FunctionCall{Name: tc.Function.Name, Arguments: args}})
		}
		msgs[i] = m
	}
	return msgs, nil
}

// contentText accepts a string, null, or an array of {type: text, text}.
func contentText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("want a string or an array of text parts")
	}
	out := ""
	for i, p := range parts {
		if p.Type != "text" {
			return "", fmt.Errorf("part %d has type %q; only text is supported", i, p.Type)
		}
		out += p.Text
	}
	return out, nil
}

// readTools parses a JSON array of OpenAI tool definitions from the file
// path ("-" = stdin; "" = none).
func readTools(cmd *cobra.Command, path string) ([]chat.Tool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := readJSONInput(cmd, path)
	if err != nil {
		return nil, fmt.Errorf("--tools: %w", err)
	}
	items, err := jsonArray(b, "--tools", "tools")
	if err != nil {
		return nil, err
	}
	tools := make([]chat.Tool, len(items))
	for i, raw := range items {
		if k := jsonKind(raw); k != "an object" {
			return nil, fmt.Errorf("--tools: tools[%d]: want an object {\"type\": \"function\", \"function\": ...}, got %s", i, k)
		}
		if err := json.Unmarshal(raw, &tools[i]); err != nil {
			return nil, fmt.Errorf("--tools: tools[%d]: %v", i, jsonError(err))
		}
	}
	return tools, nil
}

// chatSetup is what a model needs to turn messages into a prompt.
type chatSetup struct {
	renderer chat.Renderer
	format   string
	bos, eos string
	// warning is set when the file's chat template cannot be rendered and
	// the built-in renderer stands in (chatTemplateWarning); run and
	// template print it once on stderr.
	warning string
}

// chatTemplateWarning returns the warning to print when a model's own chat
// template src (its GGUF tokenizer.chat_template) is present but could not
// be used, so chat.ForModel chose the built-in renderer r of family format
// instead; "" when src is empty or r is the file's template. The fallback
// used to be silent: a template the Jinja engine cannot render changed the
// prompt format without a word. serve can print the same line.
func chatTemplateWarning(src string, r chat.Renderer, format string) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	if _, own := r.(*chat.Template); own {
		return ""
	}
	return fmt.Sprintf("the model's chat template cannot be rendered (%s); using the built-in %s format", templateError(src), format)
}

// templateError says why the chat template src does not work: its compile
// error, or the error of rendering a short conversation (what
// chat.ForModel tries).
func templateError(src string) string {
	t, err := chat.NewJinja(src)
	if err == nil {
		probe := []chat.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "u"},
			{Role: "assistant", Content: "a"}, {Role: "user", Content: "u"}}
		_, err = t.Render(probe, chat.RenderOptions{AddGenerationPrompt: true})
	}
	if err == nil {
		return "it failed a test render"
	}
	return strings.TrimPrefix(err.Error(), "chat: ")
}

func newChatSetup(f *gguf.File, tok *tokenizer.Tokenizer, builtin string) (*chatSetup, error) {
	cs := &chatSetup{}
	if id := tok.BOS(); id >= 0 {
		cs.bos = tok.TokenText(id)
	}
	if id := tok.EOS(); id >= 0 {
		cs.eos = tok.TokenText(id)
	}
	src, _ := f.String("tokenizer.chat_template")
	var err error
	if builtin != "" {
		cs.renderer, err = chat.Builtin(builtin)
		cs.format = builtin
	} else {
		cs.renderer, cs.format, err = chat.ForModel(src, f.Architecture())
	}
	if err != nil {
		return nil, err
	}
	if builtin == "" {
		cs.warning = chatTemplateWarning(src, cs.renderer, cs.format)
	}
	return cs, nil
}

// render returns the prompt text and whether the tokenizer must add BOS.
func (cs *chatSetup) render(msgs []chat.Message, opts chat.RenderOptions) (string, bool, error) {
	opts.BOS, opts.EOS = cs.bos, cs.eos
	text, _, err := chat.RenderPrompt(cs.renderer, msgs, opts)
	if err != nil {
		return "", false, err
	}
	return text, !chat.StartsWithBOS(text, cs.bos), nil
}

func newTemplateCmd() *cobra.Command {
	var path, messages, tools, thinking, builtin string
	var noGen bool
	cmd := &cobra.Command{
		Use:   "template -m MODEL --messages FILE.json [--tools FILE.json]",
		Short: "Print the prompt a conversation renders to",
		Long: `template renders an OpenAI-style JSON array of messages through the model's
chat template (its GGUF tokenizer.chat_template, or dseek's built-in renderer
for its family when the file has none or it cannot be rendered, with a
warning) and prints the prompt text. --messages - reads the JSON from stdin.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if messages == "" {
				return fmt.Errorf("no messages: pass --messages file.json (- reads stdin)")
			}
			if messages == "-" && tools == "-" {
				return fmt.Errorf("--messages and --tools cannot both read stdin")
			}
			msgs, err := readMessages(cmd, messages)
			if err != nil {
				return err
			}
			tl, err := readTools(cmd, tools)
			if err != nil {
				return err
			}
			if path == "" {
				return fmt.Errorf("no model: pass -m path/to/model.gguf or a name from dseek list")
			}
			resolved, err := store.Resolve(path)
			if err != nil {
				return err
			}
			f, err := gguf.Open(resolved)
			if err != nil {
				return err
			}
			defer f.Close()
			tok, err := tokenizer.FromGGUF(f)
			if err != nil {
				return err
			}
			cs, err := newChatSetup(f, tok, builtin)
			if err != nil {
				return err
			}
			if cs.warning != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "dseek: warning: %s\n", cs.warning)
			}
			opts := chat.RenderOptions{AddGenerationPrompt: !noGen, Tools: tl}
			switch thinking {
			case "":
			case "on", "off":
				on := thinking == "on"
				opts.Thinking = &on
			default:
				return fmt.Errorf("--thinking %q: want on or off", thinking)
			}
			text, _, err := cs.render(msgs, opts)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), text)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&path, "model", "m", "", "model: path to a GGUF file or a name from dseek list")
	fl.StringVar(&messages, "messages", "", "JSON file with an array of {role, content, ...} messages (- for stdin)")
	fl.StringVar(&tools, "tools", "", "JSON file with an array of OpenAI tool definitions (- for stdin)")
	fl.StringVar(&thinking, "thinking", "", "on or off: thinking mode for models that support it (default: the model's)")
	fl.StringVar(&builtin, "builtin", "", "use a built-in renderer instead of the file's template: deepseek-llm, deepseek-v3, deepseek-r1, deepseek-v3.1")
	fl.BoolVar(&noGen, "no-generation-prompt", false, "do not append the assistant header")
	return cmd
}
