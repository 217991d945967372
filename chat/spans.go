package chat

import (
	"fmt"
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
// protected (the template changed it beyond recognition).
func RenderSpans(r Renderer, msgs []Message, opts RenderOptions) (string, [][2]int, error) {
	text, err := r.Render(msgs, opts)
	if err != nil {
		return "", nil, err
	}
	marked := make([]Message, len(msgs))
	copy(marked, msgs)
	markers := map[int]string{}
	for i, m := range msgs {
		if m.Content == "" || (m.Role != "user" && m.Role != "system" && m.Role != "tool") {
			continue
		}
		mk := fmt.Sprintf("\uE000dseek%d\uE001", i)
		if strings.Contains(text, mk) {
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
	return text, spans, nil
}

// placeMarkers maps marker positions in the marked rendering back to the
// real rendering, where each marker is replaced by its content.
func placeMarkers(marked string, msgs []Message, markers map[int]string, realLen int) ([][2]int, map[int]bool) {
	type hit struct{ at, msg int }
	var hits []hit
	for i, mk := range markers {
		if strings.Count(marked, mk) != 1 {
			continue
		}
		hits = append(hits, hit{strings.Index(marked, mk), i})
	}
	// sort hits by position
	for a := 1; a < len(hits); a++ {
		for b := a; b > 0 && hits[b].at < hits[b-1].at; b-- {
			hits[b], hits[b-1] = hits[b-1], hits[b]
		}
	}
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
