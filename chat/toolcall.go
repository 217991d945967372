package chat

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
)

// parseToolCall parses the text between <｜tool▁call▁begin｜> and
// <｜tool▁call▁end｜> in either DeepSeek syntax:
//
//	V3:   {type}<｜tool▁sep｜>{name}\n```json\n{args}\n```
//	V3.1: {name}<｜tool▁sep｜>{args}
//
// The V3.1 form is recognised by the arguments starting with "{" right after
// the separator (leading whitespace allowed); otherwise the V3 form is
// required. The name must be non-empty without whitespace, control
// characters or "<｜"; args must be a JSON object and is returned compacted
// (json.Compact: insignificant whitespace removed, everything else kept).
// It reports false for anything else.
func parseToolCall(body string) (ToolCall, bool) {
	pre, post, ok := strings.Cut(body, TokToolSep)
	if !ok {
		return ToolCall{}, false
	}
	typ, name, args := "function", "", ""
	if strings.HasPrefix(strings.TrimLeft(post, " \t\r\n"), "{") {
		name, args = strings.TrimSpace(pre), post
	} else {
		var line, rest string
		if line, rest, ok = strings.Cut(post, "\n"); !ok {
			return ToolCall{}, false
		}
		if t := strings.TrimSpace(pre); t != "" {
			typ = t
		}
		name = strings.TrimSpace(line)
		if args, ok = unfence(rest); !ok {
			return ToolCall{}, false
		}
	}
	if !validName(name) || !validName(typ) {
		return ToolCall{}, false
	}
	var c bytes.Buffer
	if err := json.Compact(&c, []byte(args)); err != nil || c.Len() == 0 || c.Bytes()[0] != '{' {
		return ToolCall{}, false
	}
	return ToolCall{Type: typ, Function: FunctionCall{Name: name, Arguments: c.String()}}, true
}

// unfence returns the inside of a markdown code fence "```json\n...\n```"
// (surrounding whitespace allowed, the info string may be empty or "json").
func unfence(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "```") || !strings.HasSuffix(s, "```") || len(s) < 6 {
		return "", false
	}
	info, inner, ok := strings.Cut(s[3:len(s)-3], "\n")
	if !ok {
		return "", false
	}
	if info = strings.TrimSpace(info); info != "" && info != "json" {
		return "", false
	}
	return inner, true
}

// validName reports whether s can be a function name or call type.
func validName(s string) bool {
	if s == "" || strings.Contains(s, "<｜") {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}
