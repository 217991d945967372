package chat

import (
	"sort"
	"strconv"
	"strings"
)

// RenderSpans renders msgs like r.Render and also returns the byte ranges
// [start, end) of the prompt that hold user-supplied text (the Content of
// system, user and tool messages). Tokenize the prompt with special-token
// parsing everywhere except in those ranges (tokenizer.EncodeSpans), so a
// user who types "<｜Assistant｜>" gets text, not a control token.
//
// It renders once with each content replaced by a unique marker to find where
// the template put it. Where a template transforms or drops a content so its
// marker does not appear exactly once, the content is located by searching
// the real rendering for its text; content that cannot be found is not
// protected (the template changed it beyond recognition). The spans are
// sorted by start.
func RenderSpans(r Renderer, msgs []Message, opts RenderOptions) (string, [][2]int, error) {
	text, err := r.Render(msgs, opts)
	if err != nil {
		return "", nil, err
	}
	marked := make([]Message, len(msgs))
	copy(marked, msgs)
	markers := map[int]string{}
	typed := scanMarkers(text)
	for i, m := range msgs {
		if m.Content == "" || (m.Role != "user" && m.Role != "system" && m.Role != "tool") {
			continue
		}
		mk := marker(i)
		if len(typed[mk]) > 0 {
			continue // the user typed our marker: fall back to search
		}
		markers[i] = mk
		marked[i].Content = mk
	}
	var spans [][2]int
	found := map[int]bool{}
	if len(markers) > 0 {
		if mt, err := r.Render(marked, opts); err == nil {
			spans, found = placeMarkers(mt, msgs, markers, len(text))
			if spans != nil && !consistent(text, spans, msgs, found) {
				spans, found = nil, map[int]bool{}
			}
		}
	}
	// Search for contents whose marker was not placed, in message order.
	pos := 0
	for i, m := range msgs {
		if m.Content == "" || found[i] || (m.Role != "user" && m.Role != "system" && m.Role != "tool") {
			continue
		}
		if j := strings.Index(text[pos:], m.Content); j >= 0 {
			spans = append(spans, [2]int{pos + j, pos + j + len(m.Content)})
			pos += j + len(m.Content)
		}
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a][0] < spans[b][0] })
	return text, spans, nil
}

// Markers are "\uE000dseek<message index>\uE001" (private-use code points).
const markOpen, markClose = "\uE000dseek", "\uE001"

func marker(i int) string { return markOpen + strconv.Itoa(i) + markClose }

// scanMarkers returns the byte offsets of every marker in s, by marker, in
// one pass. (Counting each marker with strings.Count made RenderSpans
// quadratic in the number of messages: a 15 MB request of 400,000 one-letter
// messages kept a core busy for minutes.)
func scanMarkers(s string) map[string][]int {
	out := map[string][]int{}
	for off := 0; ; {
		j := strings.Index(s[off:], markOpen)
		if j < 0 {
			return out
		}
		at := off + j
		e := at + len(markOpen)
		for e < len(s) && s[e] >= '0' && s[e] <= '9' {
			e++
		}
		if e > at+len(markOpen) && strings.HasPrefix(s[e:], markClose) {
			mk := s[at : e+len(markClose)]
			out[mk] = append(out[mk], at)
		}
		off = at + len(markOpen)
	}
}

// placeMarkers maps marker positions in the marked rendering back to the
// real rendering, where each marker is replaced by its content.
func placeMarkers(marked string, msgs []Message, markers map[int]string, realLen int) ([][2]int, map[int]bool) {
	type hit struct{ at, msg int }
	var hits []hit
	occ := scanMarkers(marked)
	for i, mk := range markers {
		if len(occ[mk]) != 1 {
			continue
		}
		hits = append(hits, hit{occ[mk][0], i})
	}
	sort.Slice(hits, func(a, b int) bool { return hits[a].at < hits[b].at })
	shift := 0
	var spans [][2]int
	found := map[int]bool{}
	for _, h := range hits {
		start := h.at + shift
		c := msgs[h.msg].Content
		spans = append(spans, [2]int{start, start + len(c)})
		shift += len(c) - len(markers[h.msg])
		found[h.msg] = true
	}
	if len(marked)+shift != realLen {
		// other markers changed the length in ways we did not account for
		return nil, map[int]bool{}
	}
	return spans, found
}

// consistent checks that each span of the real rendering holds its content.
func consistent(text string, spans [][2]int, msgs []Message, found map[int]bool) bool {
	contents := map[string]bool{}
	for i := range found {
		contents[msgs[i].Content] = true
	}
	for _, s := range spans {
		if s[1] > len(text) || !contents[text[s[0]:s[1]]] {
			return false
		}
	}
	return true
}

// RenderPrompt is RenderSpans plus the thinking switch for templates that
// always think: with opts.Thinking set to false and a prompt that ends inside
// an open think block (R1 and R1-Distill force "<think>\n"), the block is
// closed right away ("</think>\n\n"), so the model answers without
// reasoning. V3.1 templates switch thinking themselves. A conversation that
// ends in a prefix turn is left as it is.
func RenderPrompt(r Renderer, msgs []Message, opts RenderOptions) (string, [][2]int, error) {
	text, spans, err := RenderSpans(r, msgs, opts)
	if err != nil {
		return "", nil, err
	}
	prefix := len(msgs) > 0 && msgs[len(msgs)-1].Prefix
	if opts.Thinking != nil && !*opts.Thinking && !prefix && EndsInReasoning(text) {
		text += TokEndThink + "\n\n"
	}
	return text, spans, nil
}
