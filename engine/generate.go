package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dseek-ai/dseek/sampler"
)

// GenerateOptions control Sequence.Generate.
type GenerateOptions struct {
	// MaxTokens bounds the generated tokens; <= 0 means until end of
	// generation or a full context.
	MaxTokens int
	// Sampler picks each token; nil means greedy.
	Sampler *sampler.Sampler
	// IgnoreEOG keeps generating after an end-of-generation token.
	IgnoreEOG bool
}

// Stop reasons reported in GenerateStats.
const (
	StopEOG       = "stop"      // the model produced an end-of-generation token
	StopLength    = "length"    // MaxTokens reached
	StopContext   = "context"   // the context is full
	StopCallback  = "callback"  // emit asked to stop
	StopCancelled = "cancelled" // ctx was cancelled
)

// GenerateStats describes one Generate call.
type GenerateStats struct {
	PromptTokens    int           // tokens of the prompt
	CachedTokens    int           // prompt tokens whose KV was reused
	GeneratedTokens int           // tokens sampled (including a final EOG)
	PromptTime      time.Duration // prefill time
	GenerateTime    time.Duration // decode time
	StopReason      string
}

// Generate makes the sequence hold prompt — reusing the KV cache of the
// longest common prefix of the tokens it already holds and prefilling only
// the rest — and then samples tokens one at a time, calling emit with each
// (including a final end-of-generation token, which is not evaluated).
// Generation ends when emit returns false, at an end-of-generation token,
// after MaxTokens, when the context is full, or when ctx is cancelled; the
// reason is in the stats. It returns an error for an empty prompt, a prompt
// that does not fit the context (ErrContextFull), or a failed forward pass;
// a cancelled ctx is not an error.
func (s *Sequence) Generate(ctx context.Context, prompt []int32, opt GenerateOptions, emit func(id int32) bool) (st GenerateStats, err error) {
	st.PromptTokens = len(prompt)
	if len(prompt) == 0 {
		return st, errors.New("engine: empty prompt")
	}
	k := commonPrefix(s.tokens, prompt)
	if k == len(prompt) {
		k-- // the last prompt token must be evaluated again for its logits
	}
	s.Truncate(k)
	st.CachedTokens = k
	if need, room := len(prompt), s.e.opt.CtxSize; need > room {
		return st, fmt.Errorf("%w: the prompt has %d tokens, the context holds %d", ErrContextFull, need, room)
	}
	t0 := time.Now()
	if _, err := s.Eval(ctx, prompt[k:], false); err != nil {
		if ctx.Err() != nil {
			st.StopReason = StopCancelled
			return st, nil
		}
		return st, err
	}
	st.PromptTime = time.Since(t0)
	smp := opt.Sampler
	if smp == nil {
		smp = sampler.New(sampler.Params{})
	}
	t1 := time.Now()
	defer func() { st.GenerateTime = time.Since(t1) }()
	for {
		if ctx.Err() != nil {
			st.StopReason = StopCancelled
			return st, nil
		}
		id, err := smp.Sample(s.logits)
		if err != nil {
			return st, fmt.Errorf("engine: sampling: %w", err)
		}
		smp.Accept(id)
		st.GeneratedTokens++
		if !emit(id) {
			st.StopReason = StopCallback
			return st, nil
		}
		if !opt.IgnoreEOG && s.e.Tokenizer.IsEOG(id) {
			st.StopReason = StopEOG
			return st, nil
		}
		if opt.MaxTokens > 0 && st.GeneratedTokens >= opt.MaxTokens {
			st.StopReason = StopLength
			return st, nil
		}
		if _, err = s.Eval(ctx, []int32{id}, false); err != nil {
			switch {
			case ctx.Err() != nil:
				st.StopReason = StopCancelled
				return st, nil
			case errors.Is(err, ErrContextFull):
				st.StopReason = StopContext
				return st, nil
			}
			return st, err
		}
	}
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
