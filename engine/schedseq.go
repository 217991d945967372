package engine

import (
	"context"
	"strings"
	"time"

	"github.com/dseek-ai/dseek/kvcache"
	"github.com/dseek-ai/dseek/sampler"
	"github.com/dseek-ai/dseek/tokenizer"
)

// schedSeq is one request inside the scheduler, from Submit to its final
// event. Only the scheduler goroutine touches it after Submit.
type schedSeq struct {
	req    Request
	ctx    context.Context // the submitter's context; cancelling it ends the request
	unwake func() bool     // stops the context.AfterFunc that wakes the scheduler
	out    *Stream         // where events go

	seq       kvcache.SeqID // KV cache sequence, valid while hasSeq
	hasSeq    bool
	tokens    []int32 // tokens whose KV is in seq: a prompt prefix, then prompt + generated
	cached    int     // prompt tokens reused from the prefix cache
	decoding  bool    // the prompt is evaluated; pending is the next input token
	pending   int32   // last sampled token, evaluated at the next step
	generated int     // tokens sampled so far

	samp *sampler.Sampler
	dec  *tokenizer.StreamDecoder
	held string // decoded text not yet released (could start a stop string)

	submitted time.Time
	admitted  uint64 // admission order, for preemption (newest first)
}

// prefillLeft is the number of prompt tokens still to evaluate.
func (q *schedSeq) prefillLeft() int {
	if q.decoding {
		return 0
	}
	return len(q.req.Prompt) - len(q.tokens)
}

// addText appends decoded text and returns what can be released. If a stop
// string now occurs, it returns the text before its first occurrence and
// the stop string matched; the rest is dropped.
func (q *schedSeq) addText(piece string) (release, stop string) {
	q.held += piece
	at := -1
	for _, s := range q.req.Stop {
		if s == "" {
			continue
		}
		if i := strings.Index(q.held, s); i >= 0 && (at < 0 || i < at) {
			at, stop = i, s
		}
	}
	if at >= 0 {
		release = q.held[:at]
		q.held = ""
		return release, stop
	}
	keep := 0
	for _, s := range q.req.Stop {
		keep = max(keep, stopPrefixLen(q.held, s))
	}
	release = q.held[:len(q.held)-keep]
	q.held = q.held[len(q.held)-keep:]
	return release, ""
}

// flushText releases everything held back at the end of generation.
func (q *schedSeq) flushText() string {
	rest, _ := q.addText(q.dec.Flush())
	rest += q.held
	q.held = ""
	return rest
}

// stopPrefixLen is the length of the longest suffix of s that is a proper
// prefix of stop (0 if none): text that may still become stop.
func stopPrefixLen(s, stop string) int {
	for k := min(len(s), len(stop)-1); k > 0; k-- {
		if strings.HasSuffix(s, stop[:k]) {
			return k
		}
	}
	return 0
}

// usage is the request's token counts so far.
func (q *schedSeq) usage() Usage {
	return Usage{PromptTokens: len(q.req.Prompt), CachedTokens: q.cached, CompletionTokens: q.generated}
}
