package chat

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ardanlabs/jinja"
)

// A chat template is code that comes with the model file. The Jinja engine
// has no limits of its own, so a hostile template could recurse until the
// stack overflows, build a gigantic string, or loop for hours. These guards
// bound what a template can do: templates with (mutually) recursive macros or
// huge numeric literals are refused at compile time, range() is limited in
// length, and a render stops at its deadline wherever it next calls range.
const (
	maxTemplateLiteral = 1_000_000       // largest number a template may spell out
	maxRangeLen        = 100_000         // longest list range() may build
	renderBudget       = 5 * time.Second // wall time of one render
	maxTemplateBytes   = 1 << 20         // longest template source accepted
)

// ErrTemplateRejected is returned (wrapped) for a template the guards refuse.
var ErrTemplateRejected = errors.New("chat: template refused")

var (
	tagRe    = regexp.MustCompile(`(?s)\{\{.*?\}\}|\{%.*?%\}`)
	strLitRe = regexp.MustCompile(`'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"`)
	numRe    = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b`)
	macroRe  = regexp.MustCompile(`(?s)\{%-?\s*macro\s+(\w+)\s*\((.*?)\{%-?\s*endmacro\s*-?%\}`)
)

// checkTemplate applies the compile-time guards to a template source.
func checkTemplate(src string) error {
	if len(src) > maxTemplateBytes {
		return fmt.Errorf("%w: %d bytes is longer than %d", ErrTemplateRejected, len(src), maxTemplateBytes)
	}
	for _, tag := range tagRe.FindAllString(src, -1) {
		code := strLitRe.ReplaceAllString(tag, "''")
		for _, lit := range numRe.FindAllString(code, -1) {
			if v, err := strconv.ParseFloat(lit, 64); err == nil && v > maxTemplateLiteral {
				return fmt.Errorf("%w: the number %s in %q could exhaust memory or time", ErrTemplateRejected, lit, shorten(tag))
			}
		}
	}
	// macro call graph: refuse any cycle (recursion has no depth limit)
	calls := map[string][]string{}
	var names []string
	for _, m := range macroRe.FindAllStringSubmatch(src, -1) {
		names = append(names, m[1])
		calls[m[1]] = nil
	}
	for _, m := range macroRe.FindAllStringSubmatch(src, -1) {
		body := strLitRe.ReplaceAllString(m[2], "''")
		for _, callee := range names {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(callee) + `\s*\(`).MatchString(body) {
				calls[m[1]] = append(calls[m[1]], callee)
			}
		}
	}
	if cyc := findCycle(calls); cyc != "" {
		return fmt.Errorf("%w: macro %s calls itself (directly or through others)", ErrTemplateRejected, cyc)
	}
	return nil
}

// findCycle returns a macro on a cycle of the call graph, or "".
func findCycle(calls map[string][]string) string {
	state := map[string]int{} // 0 new, 1 on stack, 2 done
	var visit func(string) bool
	visit = func(n string) bool {
		switch state[n] {
		case 1:
			return true
		case 2:
			return false
		}
		state[n] = 1
		for _, c := range calls[n] {
			if visit(c) {
				return true
			}
		}
		state[n] = 2
		return false
	}
	for n := range calls {
		if visit(n) {
			return n
		}
	}
	return ""
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// boundedRange replaces the template's range(): at most maxRangeLen items,
// and an error once the render's deadline has passed, which ends a runaway
// loop at its next range call.
func boundedRange(deadline time.Time) jinja.Value {
	return jinja.NewCallable("range", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		if time.Now().After(deadline) {
			return jinja.Undefined(), fmt.Errorf("%w: rendering took longer than %v", ErrTemplateRejected, renderBudget)
		}
		var start, stop, step int64 = 0, 0, 1
		ints := make([]int64, len(args))
		for i, a := range args {
			v, err := strconv.ParseInt(strings.TrimSpace(a.String()), 10, 64)
			if err != nil {
				return jinja.Undefined(), fmt.Errorf("range: argument %d is not an integer", i+1)
			}
			ints[i] = v
		}
		switch len(ints) {
		case 1:
			stop = ints[0]
		case 2:
			start, stop = ints[0], ints[1]
		case 3:
			start, stop, step = ints[0], ints[1], ints[2]
		default:
			return jinja.Undefined(), fmt.Errorf("range: expected 1-3 arguments, got %d", len(args))
		}
		if step == 0 {
			return jinja.Undefined(), errors.New("range: step must not be zero")
		}
		n := (stop - start + step - sign(step)) / step
		if n < 0 {
			n = 0
		}
		if n > maxRangeLen {
			return jinja.Undefined(), fmt.Errorf("%w: range of %d items is longer than %d", ErrTemplateRejected, n, maxRangeLen)
		}
		items := make([]jinja.Value, 0, n)
		for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
			items = append(items, jinja.NewInt(i))
		}
		return jinja.NewList(items), nil
	})
}

func sign(v int64) int64 {
	if v < 0 {
		return -1
	}
	return 1
}
