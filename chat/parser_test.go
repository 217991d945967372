package chat

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// parsed is the concatenation of all deltas of one generation.
type parsed struct {
	Content, Reasoning string
	Calls              []ToolCall
}

func (r *parsed) add(d Delta) {
	r.Content += d.Content
	r.Reasoning += d.Reasoning
	r.Calls = append(r.Calls, d.ToolCalls...)
}

// feed parses chunks with a fresh parser and returns the joined result.
func feed(t testing.TB, format string, opts ParserOptions, chunks []string) parsed {
	p, err := NewParser(format, opts)
	if err != nil {
		t.Fatal(err)
	}
	var r parsed
	for _, c := range chunks {
		d, err := p.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		r.add(d)
	}
	d, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	r.add(d)
	return r
}

// chunked splits s into pieces of n bytes (the last may be shorter).
func chunked(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

// randomChunks splits s at random byte offsets.
func randomChunks(r *rand.Rand, s string) []string {
	var out []string
	for len(s) > 0 {
		n := 1 + r.IntN(min(len(s), 12))
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func fn(name, args string) ToolCall {
	return ToolCall{Type: "function", Function: FunctionCall{Name: name, Arguments: args}}
}

const (
	v3Weather = TokToolCallBegin + "function" + TokToolSep + "get_weather\n```json\n{\"city\": \"Paris\"}\n```" + TokToolCallEnd
	v3Time    = TokToolCallBegin + "function" + TokToolSep + "get_time\n```json\n{\n  \"timezone\": \"Asia/Tokyo\"\n}\n```" + TokToolCallEnd
	v31Weathr = TokToolCallBegin + "get_weather" + TokToolSep + "{\"city\": \"Paris\"}" + TokToolCallEnd
	v31Time   = TokToolCallBegin + "get_time" + TokToolSep + "{\"timezone\":\"Asia/Tokyo\"}" + TokToolCallEnd
)

var parserCases = []struct {
	name   string
	format string
	opts   ParserOptions
	in     string
	want   parsed
}{
	{"plain", FormatDeepSeekV3, ParserOptions{}, "Hello, world! 你好",
		parsed{Content: "Hello, world! 你好"}},
	{"empty", FormatDeepSeekR1, ParserOptions{StartInReasoning: true}, "", parsed{}},
	{"r1 starts in reasoning", FormatDeepSeekR1, ParserOptions{StartInReasoning: true},
		"Let me think.\n</think>\n\nThe answer is 4.",
		parsed{Reasoning: "Let me think.\n", Content: "\n\nThe answer is 4."}},
	{"leading think tag", FormatDeepSeekV3, ParserOptions{},
		"<think>\nhmm\n</think>\n\nHi", parsed{Reasoning: "\nhmm\n", Content: "\n\nHi"}},
	{"think tag not at start is content", FormatDeepSeekV31, ParserOptions{},
		"Hi <think>x</think> there", parsed{Content: "Hi <think>x</think> there"}},
	{"end think in content stays", FormatDeepSeekV31, ParserOptions{},
		"a</think>b", parsed{Content: "a</think>b"}},
	{"reasoning truncated", FormatDeepSeekR1, ParserOptions{StartInReasoning: true},
		"still thinking</thi", parsed{Reasoning: "still thinking</thi"}},
	{"almost a think tag", FormatDeepSeekV3, ParserOptions{}, "<thin", parsed{Content: "<thin"}},
	{"deepseek-llm is plain", FormatDeepSeekLLM, ParserOptions{ToolsEnabled: true},
		"<think>x</think>" + TokToolCallsBegin + v3Weather, parsed{Content: "<think>x</think>" + TokToolCallsBegin + v3Weather}},
	{"v3 one call", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v3Weather + TokToolCallsEnd,
		parsed{Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"v3 two calls after text", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		"Let me check." + TokToolCallsBegin + v3Weather + "\n" + v3Time + TokToolCallsEnd,
		parsed{Content: "Let me check.", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`), fn("get_time", `{"timezone":"Asia/Tokyo"}`)}}},
	{"v3.1 two calls", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v31Weathr + v31Time + TokToolCallsEnd,
		parsed{Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`), fn("get_time", `{"timezone":"Asia/Tokyo"}`)}}},
	{"v3.1 syntax under v3 format", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v31Weathr + TokToolCallsEnd,
		parsed{Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"reasoning then call", FormatDeepSeekR1, ParserOptions{StartInReasoning: true, ToolsEnabled: true},
		"I should call the tool.</think>\n\n" + TokToolCallsBegin + v3Weather + TokToolCallsEnd,
		parsed{Reasoning: "I should call the tool.", Content: "\n\n", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"text after the call block", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v31Weathr + TokToolCallsEnd + "done",
		parsed{Content: "done", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"malformed json is content", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + TokToolCallBegin + "get_weather" + TokToolSep + `{"city": Paris}` + TokToolCallEnd + TokToolCallsEnd,
		parsed{Content: TokToolCallBegin + "get_weather" + TokToolSep + `{"city": Paris}` + TokToolCallEnd}},
	{"non-object arguments are content", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + TokToolCallBegin + "f" + TokToolSep + "[1, 2]" + TokToolCallEnd + TokToolCallsEnd,
		parsed{Content: TokToolCallBegin + "f" + TokToolSep + "[1, 2]" + TokToolCallEnd}},
	{"v3 call without fence is content", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + TokToolCallBegin + "function" + TokToolSep + "f\nnot json" + TokToolCallEnd + TokToolCallsEnd,
		parsed{Content: TokToolCallBegin + "function" + TokToolSep + "f\nnot json" + TokToolCallEnd}},
	{"truncated call is content", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		"ok " + TokToolCallsBegin + TokToolCallBegin + "get_weather" + TokToolSep + `{"city": "Par`,
		parsed{Content: "ok " + TokToolCallBegin + "get_weather" + TokToolSep + `{"city": "Par`}},
	{"truncated after a good call", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v3Weather + "\n" + TokToolCallBegin + "function" + TokToolSep + "get_ti",
		parsed{Content: TokToolCallBegin + "function" + TokToolSep + "get_ti", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"good then malformed", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + v31Weathr + TokToolCallBegin + " " + TokToolSep + "{}" + TokToolCallEnd + TokToolCallsEnd,
		parsed{Content: TokToolCallBegin + " " + TokToolSep + "{}" + TokToolCallEnd, Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"call cut by block end", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + TokToolCallBegin + "f" + TokToolSep + "{}" + TokToolCallsEnd + "after",
		parsed{Content: TokToolCallBegin + "f" + TokToolSep + "{}" + "after"}},
	{"stray text in block", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + "oops" + v31Weathr + TokToolCallsEnd,
		parsed{Content: "oops", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
	{"tools disabled", FormatDeepSeekV3, ParserOptions{},
		"x" + TokToolCallsBegin + v3Weather + TokToolCallsEnd,
		parsed{Content: "x" + TokToolCallsBegin + v3Weather + TokToolCallsEnd}},
	{"almost a calls-begin marker", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true},
		"a <｜tool▁calls▁bet", parsed{Content: "a <｜tool▁calls▁bet"}},
	{"unicode arguments", FormatDeepSeekV31, ParserOptions{ToolsEnabled: true},
		TokToolCallsBegin + TokToolCallBegin + "find" + TokToolSep + "{ \"q\" : \"Zürich 東京 \\u00e9\", \"n\": [1, 2.5] }" + TokToolCallEnd + TokToolCallsEnd,
		parsed{Calls: []ToolCall{fn("find", `{"q":"Zürich 東京 \u00e9","n":[1,2.5]}`)}}},
	{"trim space", FormatDeepSeekR1, ParserOptions{StartInReasoning: true, TrimSpace: true},
		"\n Let me think.\n</think>\n\nThe answer.", parsed{Reasoning: "Let me think.\n", Content: "The answer."}},
	{"trim space with leading think", FormatDeepSeekV3, ParserOptions{ToolsEnabled: true, TrimSpace: true},
		" \n<think>\nhm</think>\n" + TokToolCallsBegin + v3Weather + TokToolCallsEnd + "\n\nok",
		parsed{Reasoning: "hm", Content: "ok", Calls: []ToolCall{fn("get_weather", `{"city":"Paris"}`)}}},
}

// TestParserChunkings parses every case fed whole, in chunks of every size
// from 1 byte up, and in random chunkings; all must give the expected result.
func TestParserChunkings(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, tc := range parserCases {
		check := func(how string, chunks []string) {
			got := feed(t, tc.format, tc.opts, chunks)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("%s, %s:\n got %#v\nwant %#v", tc.name, how, got, tc.want)
			}
		}
		check("whole", []string{tc.in})
		for n := 1; n <= len(tc.in); n++ {
			check("chunks of "+string(rune('0'+n%10)), chunked(tc.in, n))
		}
		for range 50 {
			check("random chunks", randomChunks(r, tc.in))
		}
	}
}

// TestParserHoldsPartialTags: a chunk ending in part of a marker emits
// nothing of the marker until it is decided.
func TestParserHoldsPartialTags(t *testing.T) {
	p, _ := NewParser(FormatDeepSeekR1, ParserOptions{StartInReasoning: true, ToolsEnabled: true})
	d, _ := p.Add("abc</thi")
	if d.Reasoning != "abc" || d.Content != "" {
		t.Fatalf("first delta %+v", d)
	}
	d, _ = p.Add("nk>def<｜tool▁calls")
	if d.Reasoning != "" || d.Content != "def" {
		t.Fatalf("second delta %+v", d)
	}
	d, _ = p.Add("▁begin｜>" + v31Weathr)
	if len(d.ToolCalls) != 1 || d.Content != "" {
		t.Fatalf("third delta %+v", d)
	}
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Add("x"); err != ErrParserFinished {
		t.Fatalf("Add after Finish: %v", err)
	}
	if _, err := p.Finish(); err != ErrParserFinished {
		t.Fatalf("second Finish: %v", err)
	}
	if _, err := NewParser(FormatDeepSeekV32, ParserOptions{}); err == nil {
		t.Fatal("NewParser accepted an unsupported family")
	}
}

// markup is what the parser may drop: the special texts and code fences.
var markup = []string{TokThink, TokEndThink, TokToolCallsBegin, TokToolCallsEnd, TokToolCallBegin, TokToolCallEnd, TokToolSep, "```json", "```"}

// runeCounts counts the non-space runes of s after replacing every markup
// text by NUL (replacing, not deleting, so no new markup forms).
func runeCounts(ss ...string) map[rune]int {
	m, _ := runeAndBadCounts(ss...)
	return m
}

// runeAndBadCounts is runeCounts plus the count of each byte of invalid
// UTF-8 (which runeCounts sees only as U+FFFD).
func runeAndBadCounts(ss ...string) (map[rune]int, map[byte]int) {
	m, bad := map[rune]int{}, map[byte]int{}
	for _, s := range ss {
		for _, mk := range markup {
			s = strings.ReplaceAll(s, mk, "\x00")
		}
		for i, r := range s {
			if r == utf8.RuneError {
				if _, w := utf8.DecodeRuneInString(s[i:]); w == 1 {
					bad[s[i]]++
					continue
				}
			}
			if r != 0 && !unicode.IsSpace(r) {
				m[r]++
			}
		}
	}
	return m, bad
}

// checkNoLoss verifies that the output holds every non-space, non-markup
// rune of the input, except the call type word of V3 calls ("function"),
// and invents none.
func checkNoLoss(t *testing.T, in string, got parsed) {
	outs := []string{got.Content, got.Reasoning}
	var types []string
	for _, c := range got.Calls {
		outs = append(outs, c.Function.Name, c.Function.Arguments)
		types = append(types, c.Type)
	}
	inC, inBad := runeAndBadCounts(in)
	outC, typeC := runeCounts(outs...), runeCounts(types...)
	for r, n := range outC {
		if n <= inC[r] {
			continue
		}
		// Bytes of invalid UTF-8 on both sides of dropped markup join into
		// a valid rune ("\xef\xbd" + markup + "\x81" gives "ａ"): no byte is
		// invented when the input's stray bytes cover it.
		for _, b := range []byte(string(r)) {
			if inBad[b] -= n - inC[r]; inBad[b] < 0 {
				t.Fatalf("output has %d×%q, input only %d: in %q out %#v", n, r, inC[r], in, got)
			}
		}
	}
	for r, n := range inC {
		if lost := n - outC[r]; lost > typeC[r] {
			t.Fatalf("lost %d×%q: in %q out %#v", lost, r, in, got)
		}
	}
}

func TestParserNoLossOnCases(t *testing.T) {
	for _, tc := range parserCases {
		checkNoLoss(t, tc.in, feed(t, tc.format, tc.opts, []string{tc.in}))
	}
}

// FuzzParser: never panics, the result does not depend on the chunking, and
// no input byte is lost except markup and whitespace.
func FuzzParser(f *testing.F) {
	for _, tc := range parserCases {
		f.Add(tc.in, uint8(3), uint8(7))
	}
	f.Add(TokToolCallsBegin+TokToolCallBegin+TokToolCallBegin+TokToolSep+TokToolSep+"{}"+TokToolCallEnd, uint8(1), uint8(3))
	f.Fuzz(func(t *testing.T, in string, chunk, flags uint8) {
		formats := []string{FormatDeepSeekV3, FormatDeepSeekR1, FormatDeepSeekV31, FormatDeepSeekLLM}
		format := formats[int(flags>>3)%len(formats)]
		opts := ParserOptions{StartInReasoning: flags&1 != 0, ToolsEnabled: flags&2 != 0, TrimSpace: flags&4 != 0}
		whole := feed(t, format, opts, []string{in})
		split := feed(t, format, opts, chunked(in, 1+int(chunk)%16))
		if !reflect.DeepEqual(whole, split) {
			t.Fatalf("chunking changed the result:\n whole %#v\n split %#v", whole, split)
		}
		checkNoLoss(t, in, whole)
	})
}
