package chat

import (
	"errors"
	"fmt"
	"strings"
)

// ParserOptions configure a Parser.
type ParserOptions struct {
	// StartInReasoning says the prompt ended inside an open think block
	// (EndsInReasoning(prompt)), so the output is reasoning until </think>.
	StartInReasoning bool
	// ToolsEnabled turns on tool-call extraction. When false, tool-call
	// markup is passed through as content.
	ToolsEnabled bool
	// TrimSpace drops the whitespace that directly follows <think>,
	// </think> and <｜tool▁calls▁end｜> (R1 writes "</think>\n\n" before its
	// answer), and the whitespace at the very start of the output. Off by
	// default, in which case no byte of the output is lost except markup.
	TrimSpace bool
}

// Delta is the part of the parsed output produced by one Add or Finish call.
// Concatenating the Content and Reasoning of successive deltas, and
// appending their ToolCalls, gives the same result however the text was
// split into chunks.
type Delta struct {
	// Content is answer text (including unparsable tool-call markup).
	Content string
	// Reasoning is text inside the think block.
	Reasoning string
	// ToolCalls are complete calls; each is reported once, when its
	// <｜tool▁call▁end｜> arrives. Arguments are compact JSON text.
	ToolCalls []ToolCall
}

// Empty reports whether the delta carries nothing.
func (d Delta) Empty() bool {
	return d.Content == "" && d.Reasoning == "" && len(d.ToolCalls) == 0
}

// ErrParserFinished is returned by Add and Finish after Finish.
var ErrParserFinished = errors.New("chat: parser already finished")

type parserState int

const (
	stStart     parserState = iota // nothing seen yet: a leading <think> opens reasoning
	stReasoning                    // inside <think> ... </think>
	stContent                      // answer text, watching for <｜tool▁calls▁begin｜>
	stCalls                        // inside a tool-call block
)

// Parser splits a model's streamed output into reasoning, content and tool
// calls (DeepSeek's <think> blocks and V3 / V3.1 tool-call syntax; see
// parseToolCall). Text that might be the start of a marker split across
// chunks (e.g. "</thi" + "nk>") is held back until it is decided. A
// malformed or truncated tool call is reported as content, verbatim with its
// own <｜tool▁call▁begin｜>/<｜tool▁sep｜>/<｜tool▁call▁end｜> markup; the
// block markers <｜tool▁calls▁begin｜>/<｜tool▁calls▁end｜> and the whitespace
// between calls are always dropped. A Parser is for one generation and is
// not safe for concurrent use.
type Parser struct {
	opts     ParserOptions
	think    bool // a leading <think> opens reasoning (every family but DeepSeek-LLM)
	state    parserState
	buf      string // received but not yet emitted
	trim     bool   // drop whitespace until the next non-space text (TrimSpace)
	finished bool
}

// NewParser returns a Parser for the output of the given family (a Detect
// name). FormatDeepSeekLLM output is plain content (tool calls and a leading
// <think> are not recognised); FormatDeepSeekV3, FormatDeepSeekR1 and
// FormatDeepSeekV31 share the same grammar and accept both tool-call
// syntaxes. Other names are an error.
func NewParser(format string, opts ParserOptions) (*Parser, error) {
	p := &Parser{opts: opts, state: stStart, trim: opts.TrimSpace}
	switch format {
	case FormatDeepSeekLLM:
		p.opts.ToolsEnabled = false
	case FormatDeepSeekV3, FormatDeepSeekR1, "deepseek-r1-distill", FormatDeepSeekV31:
		p.think = true
	default:
		return nil, fmt.Errorf("chat: no output parser for family %q", format)
	}
	if opts.StartInReasoning {
		p.state = stReasoning
	} else if !p.think {
		p.state = stContent
	}
	return p, nil
}

// Add feeds the next chunk of generated text and returns what can already be
// decided. It returns ErrParserFinished after Finish.
func (p *Parser) Add(chunk string) (Delta, error) {
	if p.finished {
		return Delta{}, ErrParserFinished
	}
	p.buf += chunk
	var d Delta
	for p.step(&d, false) {
	}
	return d, nil
}

// Finish flushes everything still held back: a partial marker becomes text
// of the current section, an unfinished tool call becomes content. It
// returns ErrParserFinished when called twice.
func (p *Parser) Finish() (Delta, error) {
	if p.finished {
		return Delta{}, ErrParserFinished
	}
	var d Delta
	for p.step(&d, true) {
	}
	p.finished = true
	return d, nil
}

// step consumes what it can from p.buf and reports whether it made progress.
// With final set, nothing is held back.
func (p *Parser) step(d *Delta, final bool) bool {
	if p.buf == "" {
		return false
	}
	switch p.state {
	case stStart:
		if p.trim {
			rest := strings.TrimLeft(p.buf, " \t\r\n")
			if len(rest) < len(p.buf) {
				p.consume(len(p.buf) - len(rest))
				return true
			}
		}
		switch {
		case strings.HasPrefix(p.buf, TokThink):
			p.consume(len(TokThink))
			p.enter(stReasoning)
		case strings.HasPrefix(TokThink, p.buf) && !final:
			return false // could still become <think>
		default:
			p.state = stContent
		}
		return true
	case stReasoning:
		return p.scanText(&d.Reasoning, final, TokEndThink, stContent)
	case stContent:
		if !p.opts.ToolsEnabled {
			return p.emit(&d.Content, len(p.buf))
		}
		return p.scanText(&d.Content, final, TokToolCallsBegin, stCalls)
	case stCalls:
		return p.stepCalls(d, final)
	}
	return false
}

// scanText emits text of the current section into out up to marker, then
// consumes the marker and moves to next. Without the marker it emits all but
// a suffix that could begin it (nothing is held back when final).
func (p *Parser) scanText(out *string, final bool, marker string, next parserState) bool {
	if i := strings.Index(p.buf, marker); i >= 0 {
		p.emit(out, i)
		p.consume(len(marker))
		p.enter(next)
		return true
	}
	n := len(p.buf)
	if !final {
		n -= partialSuffix(p.buf, marker)
	}
	return p.emit(out, n)
}

// stepCalls parses inside a tool-call block: whitespace between calls is
// dropped, <｜tool▁calls▁end｜> closes the block, each complete
// <｜tool▁call▁begin｜>...<｜tool▁call▁end｜> becomes a ToolCall (or, if
// malformed, content), and any other text is content.
func (p *Parser) stepCalls(d *Delta, final bool) bool {
	rest := strings.TrimLeft(p.buf, " \t\r\n")
	ws := len(p.buf) - len(rest)
	switch {
	case rest == "":
		if final {
			return p.emit(&d.Content, len(p.buf))
		}
		return false
	case strings.HasPrefix(rest, TokToolCallsEnd):
		p.consume(ws + len(TokToolCallsEnd))
		p.enter(stContent)
		return true
	case strings.HasPrefix(rest, TokToolCallBegin):
		body := rest[len(TokToolCallBegin):]
		end := strings.Index(body, TokToolCallEnd)
		// A call interrupted by the block end or by the next call is malformed.
		stop := firstIndex(body, TokToolCallsEnd, TokToolCallBegin)
		switch {
		case end >= 0 && (stop < 0 || end < stop):
			raw := rest[:len(TokToolCallBegin)+end+len(TokToolCallEnd)]
			if call, ok := parseToolCall(body[:end]); ok {
				d.ToolCalls = append(d.ToolCalls, call)
				p.consume(ws + len(raw))
				return true
			}
			p.consume(ws)
			return p.emitRaw(&d.Content, len(raw))
		case stop >= 0:
			p.consume(ws)
			return p.emitRaw(&d.Content, len(TokToolCallBegin)+stop)
		case final:
			p.consume(ws)
			return p.emitRaw(&d.Content, len(p.buf))
		}
		return false // wait for the end of the call
	case !final && (strings.HasPrefix(TokToolCallsEnd, rest) || strings.HasPrefix(TokToolCallBegin, rest)):
		return false // a marker may be arriving
	}
	// Stray text inside the block: content up to the next marker. Whitespace
	// right before a marker is a separator (dropped by the next step), so it
	// is held back until that is decided.
	n := len(p.buf)
	if i := firstIndex(p.buf[ws:], TokToolCallsEnd, TokToolCallBegin); i >= 0 {
		n = len(strings.TrimRight(p.buf[:ws+i], " \t\r\n"))
	} else if !final {
		n -= max(partialSuffix(p.buf, TokToolCallsEnd), partialSuffix(p.buf, TokToolCallBegin))
		n = len(strings.TrimRight(p.buf[:n], " \t\r\n"))
	}
	return p.emitRaw(&d.Content, n)
}

// emit moves the first n bytes of the buffer to out, dropping leading
// whitespace while p.trim is set. It reports whether anything was consumed.
func (p *Parser) emit(out *string, n int) bool {
	if n <= 0 {
		return false
	}
	s := p.buf[:n]
	p.consume(n)
	if p.trim {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return true
		}
		p.trim = false
	}
	*out += s
	return true
}

// emitRaw moves the first n bytes to out verbatim (unparsed markup is never
// trimmed).
func (p *Parser) emitRaw(out *string, n int) bool {
	if n <= 0 {
		return false
	}
	*out += p.buf[:n]
	p.consume(n)
	p.trim = false
	return true
}

// consume drops the first n bytes of the buffer.
func (p *Parser) consume(n int) { p.buf = p.buf[n:] }

// enter switches state after a marker; with TrimSpace, whitespace right
// after the marker is dropped.
func (p *Parser) enter(s parserState) {
	p.state = s
	p.trim = p.opts.TrimSpace
}

// partialSuffix returns the length of the longest suffix of s that is a
// proper prefix of marker (0 if none).
func partialSuffix(s, marker string) int {
	for k := min(len(s), len(marker)-1); k > 0; k-- {
		if strings.HasPrefix(marker, s[len(s)-k:]) {
			return k
		}
	}
	return 0
}

// firstIndex returns the smallest index in s of any of the markers, or -1.
func firstIndex(s string, markers ...string) int {
	best := -1
	for _, m := range markers {
		if i := strings.Index(s, m); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	return best
}
