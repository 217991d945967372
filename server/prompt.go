package server

import (
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/openai"
	"github.com/dseek-ai/dseek/sampler"
)

// chatPrompt is a conversation rendered and tokenized, ready to generate.
type chatPrompt struct {
	tokens    []int32
	text      string
	reasoning bool // the prompt ends inside a think block: output starts as reasoning
	tools     bool // extract tool calls from the output
	prefix    bool // the output continues an assistant prefix
}

// Instructions dseek adds to the system prompt for features the chat
// templates have no syntax for.
const (
	jsonInstruction     = "Answer with one valid JSON object and nothing else."
	requiredInstruction = "You must answer by calling one or more of the functions above."
	namedInstruction    = "You must answer by calling the function "
)

// renderChat renders msgs through the model's chat template and tokenizes
// the prompt so that user-supplied text never becomes control tokens
// (chat.RenderSpans + tokenizer.EncodeSpans). thinking nil keeps the
// template's default; false on a template that forces thinking (R1) closes
// the think block right away ("<think>\n</think>\n\n").
func (s *Server) renderChat(msgs []chat.Message, tools []chat.Tool, thinking *bool) (*chatPrompt, *openai.Error) {
	prefix := len(msgs) > 0 && msgs[len(msgs)-1].Prefix
	opts := chat.RenderOptions{AddGenerationPrompt: !prefix, Thinking: thinking, Tools: tools, BOS: s.bos, EOS: s.eos}
	text, spans, err := chat.RenderPrompt(s.renderer, msgs, opts)
	if err != nil {
		param := "messages"
		if len(tools) > 0 && strings.Contains(err.Error(), "tool") {
			param = "tools"
		}
		return nil, openai.Invalid(param, "cannot render the conversation with this model's chat template: %s", clientMessage(err))
	}
	if e := s.checkPromptBytes(len(text), "messages"); e != nil {
		return nil, e
	}
	p := &chatPrompt{
		text:      text,
		tokens:    s.e.Tokenizer.EncodeSpans(text, !chat.StartsWithBOS(text, s.bos), spans),
		reasoning: chat.EndsInReasoning(text),
		tools:     len(tools) > 0,
		prefix:    prefix,
	}
	return p, nil
}

// checkPromptBytes refuses, before tokenizing, a prompt of n bytes that
// cannot fit the context whatever its tokens (tokenizer.MaxTokenBytes gives
// a lower bound on its token count). Tokenizing first let one 15 MB request
// of spaces take 30 s and 4 GB only to be refused as too long.
func (s *Server) checkPromptBytes(n int, param string) *openai.Error {
	lim, mt := s.sched.MaxSeqLen(), s.e.Tokenizer.MaxTokenBytes()
	if lim <= 0 || mt <= 0 {
		return nil
	}
	if atLeast := (n + mt - 1) / mt; atLeast >= lim {
		return promptTooLong(param, atLeast, lim, true)
	}
	return nil
}

// openaiMessages converts the request messages to chat messages.
func openaiMessages(req *openai.ChatRequest) []chat.Message {
	msgs := make([]chat.Message, len(req.Messages))
	for i, m := range req.Messages {
		role := m.Role
		if role == "developer" {
			role = "system"
		}
		cm := chat.Message{Role: role, Content: m.Content.Text, ToolCallID: m.ToolCallID, Name: m.Name, Prefix: m.Prefix}
		if m.ReasoningContent != nil {
			cm.ReasoningContent = *m.ReasoningContent
		}
		for _, c := range m.ToolCalls {
			cm.ToolCalls = append(cm.ToolCalls, chat.ToolCall{ID: c.ID, Type: "function",
				Function: chat.FunctionCall{Name: c.Function.Name, Arguments: string(c.Function.Arguments)}})
		}
		msgs[i] = cm
	}
	return msgs
}

// openaiTools converts the tools, honouring tool_choice: "none" drops
// them, "required" and a named function add an instruction to the system
// prompt (the templates have no way to force a call; see README).
func openaiTools(req *openai.ChatRequest, msgs []chat.Message) ([]chat.Tool, []chat.Message) {
	choice := "auto"
	if req.ToolChoice != nil {
		choice = req.ToolChoice.Mode
	}
	if len(req.Tools) == 0 || choice == "none" {
		return nil, msgs
	}
	tools := make([]chat.Tool, len(req.Tools))
	for i, t := range req.Tools {
		tools[i] = chat.Tool{Type: "function", Function: chat.FunctionDef{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters}}
	}
	switch choice {
	case "required":
		msgs = appendSystem(msgs, requiredInstruction)
	case "function":
		msgs = appendSystem(msgs, namedInstruction+req.ToolChoice.Function+".")
	}
	return tools, msgs
}

// appendSystem adds text to the last system message, or prepends a system
// message when there is none (R1's template keeps only the last one).
func appendSystem(msgs []chat.Message, text string) []chat.Message {
	out := make([]chat.Message, len(msgs), len(msgs)+1)
	copy(out, msgs)
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].Role == "system" {
			if out[i].Content != "" {
				text = out[i].Content + "\n\n" + text
			}
			out[i].Content = text
			return out
		}
	}
	return append([]chat.Message{{Role: "system", Content: text}}, out...)
}

// mentionsJSON reports whether any message mentions JSON.
func mentionsJSON(msgs []chat.Message) bool {
	for _, m := range msgs {
		if strings.Contains(strings.ToLower(m.Content), "json") {
			return true
		}
	}
	return false
}

// samplingParams maps the API's sampling fields to sampler.Params:
// temperature defaults to 1 (DeepSeek's and OpenAI's default), top_p 0
// means greedy, penalties look at every generated token, a missing seed
// draws a random one, and bias is the logit_bias (checked by checkBias).
func samplingParams(temperature, topP, presence, frequency *float64, topK *int, seed *int64, bias openai.LogitBias) sampler.Params {
	p := sampler.Params{Temperature: 1, LogitBias: bias}
	if temperature != nil {
		p.Temperature = *temperature
	}
	if topP != nil {
		if *topP == 0 {
			p.Temperature = 0
		}
		p.TopP = *topP
	}
	if topK != nil {
		p.TopK = *topK
	}
	if presence != nil {
		p.PresencePenalty = *presence
	}
	if frequency != nil {
		p.FrequencyPenalty = *frequency
	}
	if p.PresencePenalty != 0 || p.FrequencyPenalty != 0 {
		p.RepeatLastN = -1
	}
	if seed != nil {
		p.Seed = uint64(*seed)
	} else {
		p.Seed = rand.Uint64()
	}
	return p
}

// checkBias refuses a logit_bias naming a token outside the vocabulary
// (openai.LogitBias has checked the rest).
func (s *Server) checkBias(bias openai.LogitBias) *openai.Error {
	nv := s.e.Model.Config.NVocab
	var bad []int32
	for id := range bias {
		if int(id) >= nv {
			bad = append(bad, id)
		}
	}
	if len(bad) > 0 {
		return openai.Invalid("logit_bias", "token id %d is outside the vocabulary [0, %d)", slices.Min(bad), nv)
	}
	return nil
}
