package main

import (
	"encoding/json"
	"fmt"
	"os"

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

// readMessages parses an OpenAI-style JSON array of messages.
func readMessages(path string) ([]chat.Message, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wire []wireMessage
	if err := json.Unmarshal(b, &wire); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of messages: %w", path, err)
	}
	msgs := make([]chat.Message, len(wire))
	for i, w := range wire {
		switch w.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, fmt.Errorf("%s: messages[%d].role %q: want system, user, assistant or tool", path, i, w.Role)
		}
		text, err := contentText(w.Content)
		if err != nil {
			return nil, fmt.Errorf("%s: messages[%d].content: %w", path, i, err)
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

func readTools(path string) ([]chat.Tool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tools []chat.Tool
	if err := json.Unmarshal(b, &tools); err != nil {
		return nil, fmt.Errorf("%s: want a JSON array of tools: %w", path, err)
	}
	return tools, nil
}

// chatSetup is what a model needs to turn messages into a prompt.
type chatSetup struct {
	renderer chat.Renderer
	format   string
	bos, eos string
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
for its family) and prints the prompt text.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if messages == "" {
				return fmt.Errorf("no messages: pass --messages file.json")
			}
			msgs, err := readMessages(messages)
			if err != nil {
				return err
			}
			tl, err := readTools(tools)
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
	fl.StringVar(&messages, "messages", "", "JSON file with an array of {role, content, ...} messages")
	fl.StringVar(&tools, "tools", "", "JSON file with an array of OpenAI tool definitions")
	fl.StringVar(&thinking, "thinking", "", "on or off: thinking mode for models that support it (default: the model's)")
	fl.StringVar(&builtin, "builtin", "", "use a built-in renderer instead of the file's template: deepseek-llm, deepseek-v3, deepseek-r1, deepseek-v3.1")
	fl.BoolVar(&noGen, "no-generation-prompt", false, "do not append the assistant header")
	return cmd
}
