package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes tests as a JSON array of objects, the shape of
// llama-bench's `-o json` output (tools that read it read this).
func WriteJSON(w io.Writer, tests []Test) error {
	if tests == nil {
		tests = []Test{}
	}
	b, err := json.MarshalIndent(tests, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// column is one markdown column: header, width (negative = left-aligned,
// llama-bench's get_field_width) and the cell text.
type column struct {
	head  string
	width int
	cell  func(t *Test) string
}

var mdColumns = []column{
	{"model", -30, func(t *Test) string { return t.ModelType }},
	{"size", 10, func(t *Test) string { return humanSize(t.ModelSize) }},
	{"params", 10, func(t *Test) string { return humanParams(t.ModelNParams) }},
	{"backend", -10, func(t *Test) string { return t.Backends }},
	{"threads", 7, func(t *Test) string { return fmt.Sprint(t.NThreads) }},
	{"test", 13, func(t *Test) string { return t.Test }},
	{"t/s", 16, func(t *Test) string { return fmt.Sprintf("%.2f ± %.2f", t.AvgTs, t.StddevTs) }},
}

// humanSize is llama-bench's size cell: MiB below 1 GiB, GiB above.
func humanSize(b int64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30))
}

// humanParams is llama-bench's params cell: M below 1e9, B above.
func humanParams(n int64) string {
	if n < 1e9 {
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f B", float64(n)/1e9)
}

// pad right-aligns (width > 0) or left-aligns (width < 0) s in |width|
// runes, like printf("%*s").
func pad(s string, width int) string {
	n := len([]rune(s))
	w := width
	if w < 0 {
		w = -w
	}
	if n >= w {
		return s
	}
	if width < 0 {
		return s + strings.Repeat(" ", w-n)
	}
	return strings.Repeat(" ", w-n) + s
}

// WriteMarkdown writes the llama-bench markdown table (model, size, params,
// backend, threads, test, t/s) and, for tg tests with a bandwidth figure, a
// line each with the bytes read per token, the bound and the fraction of it
// reached.
func WriteMarkdown(w io.Writer, tests []Test) error {
	var b strings.Builder
	b.WriteString("|")
	for _, c := range mdColumns {
		fmt.Fprintf(&b, " %s |", pad(c.head, c.width))
	}
	b.WriteString("\n|")
	for _, c := range mdColumns {
		w := c.width
		end := "-"
		if w > 0 {
			end = ":"
		} else {
			w = -w
		}
		fmt.Fprintf(&b, " %s%s |", strings.Repeat("-", w-1), end)
	}
	b.WriteString("\n")
	for i := range tests {
		b.WriteString("|")
		for _, c := range mdColumns {
			fmt.Fprintf(&b, " %s |", pad(c.cell(&tests[i]), c.width))
		}
		b.WriteString("\n")
	}
	var notes []string
	for i := range tests {
		t := &tests[i]
		if t.BandwidthGBps > 0 {
			notes = append(notes, fmt.Sprintf("%s (%d threads): %.1f MiB read per token, %.1f GB/s measured -> bound %.2f t/s; reached %.1f%%",
				t.Test, t.NThreads, float64(t.DecodeBytesPerToken)/(1<<20), t.BandwidthGBps, t.BoundTs, 100*t.BoundFraction))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			b.WriteString(n + "\n")
		}
	}
	if len(tests) > 0 {
		fmt.Fprintf(&b, "\nbuild: %s (%d)\n", tests[0].BuildCommit, tests[0].BuildNumber)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
