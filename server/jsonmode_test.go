package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/chat"
)

// validObject reports what encoding/json says: s is one JSON object
// (leading whitespace allowed, nothing after it).
func validObject(s string) bool {
	t := strings.TrimLeft(s, " \t\r\n")
	if !strings.HasPrefix(t, "{") || !json.Valid([]byte(t)) {
		return false
	}
	return strings.TrimRight(t, " \t\r\n") == t // the validator ends at the closing brace
}

// TestJSONValidator compares the incremental validator with encoding/json
// on hand-picked texts and on every prefix of valid ones.
func TestJSONValidator(t *testing.T) {
	valid := []string{
		`{}`, ` {"a":1}`, `{"a":[1,-2.5e+3,0,0.1,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{"c":{}}}`,
		`{"k": [ ], "l": [[]], "m": -0, "n": 1E5, "o": "ü€😀"}`,
	}
	invalid := []string{
		`[]`, `"a"`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":-}`,
		`{"a":1e}`, `{"a":tru}`, `{"a":nul1}`, `{"a":"\x"}`, `{"a":"\u12g4"}`, "{\"a\":\"\x01\"}", `{"a":1}}`, `{"a":[1,]}`,
		`{a:1}`, `{"a":1 "b":2}`, `{} `, `x{}`,
	}
	for _, s := range valid {
		if !validObject(s) {
			t.Fatalf("test case %q is not valid JSON", s)
		}
		for i := 0; i <= len(s); i++ {
			var v jsonValidator
			if !v.feed(s[:i]) {
				t.Errorf("prefix %q of valid %q refused", s[:i], s)
			}
			if v.done() != (i == len(s)) {
				t.Errorf("prefix %q: done %v", s[:i], v.done())
			}
		}
	}
	for _, s := range invalid {
		var v jsonValidator
		if v.feed(s) && v.done() {
			t.Errorf("invalid %q accepted as complete", s)
		}
		if validObject(s) {
			t.Errorf("test case %q is valid JSON", s)
		}
	}
}

// FuzzJSONValidator: the validator accepts a complete object exactly when
// encoding/json finds one valid object, and never refuses a prefix of one.
func FuzzJSONValidator(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `{"x":"\u0041"}`, `{"n":-1.5E-3}`, `{}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var v jsonValidator
		ok := v.feed(s)
		complete := ok && v.done()
		if complete != validObject(s) {
			t.Fatalf("%q: validator complete=%v, encoding/json object=%v", s, complete, validObject(s))
		}
	})
}

// TestJSONConstraintThinking: reasoning is free until </think>, then only
// a JSON object may follow, and the end-of-generation token only after it.
func TestJSONConstraintThinking(t *testing.T) {
	c := newJSONConstraint(true)
	if !c.Allow(1, "anything at all", false) || c.Allow(1, "", true) {
		t.Fatal("reasoning must be free but not end")
	}
	c.Accept(1, "some thought </thi")
	if c.Allow(2, "nk> hello", false) || !c.Allow(2, "nk>\n{", false) {
		t.Error("after </think> (split across tokens) only JSON may follow")
	}
	c.Accept(2, "nk>\n{\"a\": ")
	if c.Done() || c.Allow(0, "", true) {
		t.Error("an unfinished object is not done")
	}
	c.Accept(3, "1}")
	if !c.Done() || !c.Allow(0, "", true) {
		t.Error("the closed object is done")
	}
	if chat.TokEndThink != "</think>" {
		t.Fatal("marker changed")
	}
}
