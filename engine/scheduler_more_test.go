package engine

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dseek-ai/dseek/sampler"
)

// TestSchedulerChunkedPrefill: with a micro-batch of 8 tokens every prompt
// is prefilled in several chunks that share steps with other requests'
// decode tokens; results still equal the single-sequence path (which also
// evaluates prompts 8 tokens at a time).
func TestSchedulerChunkedPrefill(t *testing.T) {
	e := schedEngine(t, splitModels[1], 4096)
	e.opt.UBatch = 8
	prompts := schedPrompts(e, 4)
	want := make([][]int32, len(prompts))
	for i, p := range prompts {
		want[i] = referenceGreedy(t, e, p, 16)
	}
	s := newSched(t, e, SchedulerOptions{Parallel: 4, PrefixCacheBytes: -1})
	got := make([][]int32, len(prompts))
	var wg sync.WaitGroup
	for i, p := range prompts {
		wg.Go(func() {
			st, err := s.Submit(context.Background(), Request{Prompt: p, MaxTokens: 16})
			if err != nil {
				t.Error(err)
				return
			}
			got[i], _, _ = collect(t, st)
		})
	}
	wg.Wait()
	for i := range prompts {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("request %d: scheduler %v, sequence %v", i, got[i], want[i])
		}
	}
	if st := s.Stats(); st.PrefillTokens < uint64(len(prompts[0])) || st.Steps < uint64(len(prompts[0])/8) {
		t.Errorf("stats %+v", st)
	}
}

// TestSchedulerPrefixCache: a second request that starts with the first
// request's prompt reuses its KV (Usage.CachedTokens), prefills only the
// rest, and still gives the single-sequence result.
func TestSchedulerPrefixCache(t *testing.T) {
	for _, name := range splitModels {
		t.Run(name, func(t *testing.T) {
			e := schedEngine(t, name, 4096)
			first := e.Tokenizer.Encode("The first turn of a conversation about prefix caches.", true, false)
			second := append(slices.Clone(first), e.Tokenizer.Encode(" And a second turn that continues it.", false, false)...)
			want := referenceGreedy(t, e, second, 12)
			s := newSched(t, e, SchedulerOptions{Parallel: 2})
			st, err := s.Submit(t.Context(), Request{Prompt: first, MaxTokens: 4})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, ev := collect(t, st); ev.Usage.CachedTokens != 0 {
				t.Fatalf("first request: %d cached tokens, want 0", ev.Usage.CachedTokens)
			}
			before := s.Stats()
			st, err = s.Submit(t.Context(), Request{Prompt: second, MaxTokens: 12})
			if err != nil {
				t.Fatal(err)
			}
			ids, _, ev := collect(t, st)
			after := s.Stats()
			if ev.Usage.CachedTokens != len(first) {
				t.Errorf("second request: %d cached tokens, want %d (the first prompt)", ev.Usage.CachedTokens, len(first))
			}
			if got := after.PrefillTokens - before.PrefillTokens; got != uint64(len(second)-len(first)) {
				t.Errorf("second request prefilled %d tokens, want %d", got, len(second)-len(first))
			}
			if !slices.Equal(ids, want) {
				t.Errorf("with cached prefix %v, sequence %v", ids, want)
			}
			// The very same prompt again: all but its last token come from the cache.
			st, _ = s.Submit(t.Context(), Request{Prompt: second, MaxTokens: 12})
			ids, _, ev = collect(t, st)
			if ev.Usage.CachedTokens != len(second)-1 || !slices.Equal(ids, want) {
				t.Errorf("repeat: cached %d (want %d), ids %v want %v", ev.Usage.CachedTokens, len(second)-1, ids, want)
			}
		})
	}
}

// TestSchedulerCancelFreesKV: cancelling a request's context ends its
// stream with StopCancelled, frees its slot and all its KV pages.
func TestSchedulerCancelFreesKV(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 4096)
	s := newSched(t, e, SchedulerOptions{Parallel: 1, PrefixCacheBytes: -1})
	ctx, cancel := context.WithCancel(t.Context())
	st, err := s.Submit(ctx, Request{Prompt: schedPrompts(e, 1)[0], Constraint: noEOG{}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := st.Recv(t.Context())
	if err != nil || ev.Token == nil {
		t.Fatalf("first event %+v, %v", ev, err)
	}
	if got := s.Stats(); got.Running != 1 || got.KVPagesUsed == 0 {
		t.Fatalf("while running: %+v", got)
	}
	cancel()
	_, _, last := collect(t, st)
	if last.Reason != StopCancelled {
		t.Fatalf("reason %q, want %q", last.Reason, StopCancelled)
	}
	// The stats are refreshed at the end of the loop iteration that
	// finished the request; a queued request afterwards proves it ran.
	st, err = s.Submit(t.Context(), Request{Prompt: []int32{1, 2, 3}, MaxTokens: 1})
	if err != nil {
		t.Fatal(err)
	}
	collect(t, st)
	got := s.Stats()
	if got.Running != 0 || got.FinishedBy[StopCancelled] != 1 {
		t.Errorf("after cancel: %+v", got)
	}
	if got.KVPagesUsed != 0 {
		t.Errorf("after cancel: %d KV pages in use, want 0", got.KVPagesUsed)
	}
}

// noEOG is a Constraint that forbids end-of-generation tokens, so a
// request runs until cancelled or out of budget.
type noEOG struct{}

func (noEOG) Allow(_ int32, _ string, eog bool) bool { return !eog }
func (noEOG) Accept(int32, string)                   {}
func (noEOG) Done() bool                             { return false }

// TestSchedulerLimits: a prompt that fills the context is refused, and so
// is a request beyond the queue bound.
func TestSchedulerLimits(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 256)
	s := newSched(t, e, SchedulerOptions{Parallel: 1, MaxQueue: 1})
	if s.MaxSeqLen() != 256 {
		t.Fatalf("MaxSeqLen %d, want 256 (the KV capacity)", s.MaxSeqLen())
	}
	long := make([]int32, 256)
	if _, err := s.Submit(t.Context(), Request{Prompt: long}); !errors.Is(err, ErrPromptTooLong) {
		t.Errorf("256-token prompt: %v, want ErrPromptTooLong", err)
	}
	if _, err := s.Submit(t.Context(), Request{Prompt: []int32{1, 99999}}); !errors.Is(err, ErrBadRequest) {
		t.Errorf("bad token id: %v, want ErrBadRequest", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := schedPrompts(e, 1)[0]
	var streams []*Stream
	for i := range 2 {
		st, err := s.Submit(ctx, Request{Prompt: p, MaxTokens: 200})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		streams = append(streams, st)
	}
	if _, err := s.Submit(ctx, Request{Prompt: p, MaxTokens: 200}); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third request with parallel 1 and queue 1: %v, want ErrQueueFull", err)
	}
	cancel()
	for _, st := range streams {
		collect(t, st)
	}
	if got := s.Stats(); got.Rejected != 1 {
		t.Errorf("Rejected %d, want 1", got.Rejected)
	}
}

// TestSchedulerStopAndMaxTokens: a stop string cuts the text before it and
// ends the request; MaxTokens ends it with StopLength.
func TestSchedulerStopAndMaxTokens(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 4096)
	s := newSched(t, e, SchedulerOptions{})
	p := schedPrompts(e, 1)[0]
	st, _ := s.Submit(t.Context(), Request{Prompt: p, MaxTokens: 20})
	ids, text, ev := collect(t, st)
	if ev.Reason != StopLength || len(ids) != 20 || ev.Usage.CompletionTokens != 20 {
		t.Fatalf("reason %q, %d tokens, usage %+v", ev.Reason, len(ids), ev.Usage)
	}
	if want := string(e.Tokenizer.Decode(ids, false)); text != want {
		t.Fatalf("text %q, want the decoded tokens %q", text, want)
	}
	// Stop on a string from the middle of that output.
	r := []rune(text)
	stop := string(r[len(r)/2 : len(r)/2+3])
	cut := strings.Index(text, stop)
	st, _ = s.Submit(t.Context(), Request{Prompt: p, MaxTokens: 20, Stop: []string{"never-appears", stop}})
	_, got, ev := collect(t, st)
	if ev.Reason != StopString || ev.StopString != stop || got != text[:cut] {
		t.Errorf("stop %q: reason %q (%q), text %q, want %q", stop, ev.Reason, ev.StopString, got, text[:cut])
	}
}

// onlyTokens is a Constraint allowing a fixed token set and finishing after
// n tokens.
type onlyTokens struct {
	allow map[int32]bool
	n     int
}

func (c *onlyTokens) Allow(id int32, _ string, eog bool) bool { return !eog && c.allow[id] }
func (c *onlyTokens) Accept(int32, string)                    { c.n-- }
func (c *onlyTokens) Done() bool                              { return c.n <= 0 }

// TestSchedulerConstraint: every token sampled under a Constraint is one it
// allows, and Done ends the request with StopConstraint.
func TestSchedulerConstraint(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 4096)
	s := newSched(t, e, SchedulerOptions{})
	c := &onlyTokens{allow: map[int32]bool{5: true, 17: true, 300: true}, n: 6}
	st, _ := s.Submit(t.Context(), Request{Prompt: schedPrompts(e, 1)[0], MaxTokens: 50, Constraint: c})
	ids, _, ev := collect(t, st)
	if ev.Reason != StopConstraint || len(ids) != 6 {
		t.Fatalf("reason %q after %d tokens", ev.Reason, len(ids))
	}
	for _, id := range ids {
		if !c.allow[id] {
			t.Errorf("sampled %d, not allowed", id)
		}
	}
}

// TestSchedulerWithSequenceEval: the single-sequence path keeps working
// (and stays exact) while the scheduler runs requests on the same engine.
func TestSchedulerWithSequenceEval(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 4096)
	prompts := schedPrompts(e, 3)
	want := referenceGreedy(t, e, prompts[0], 16)
	s := newSched(t, e, SchedulerOptions{Parallel: 2})
	var wg sync.WaitGroup
	for _, p := range prompts[1:] {
		wg.Go(func() {
			st, err := s.Submit(context.Background(), Request{Prompt: p, MaxTokens: 40})
			if err == nil {
				collect(t, st)
			}
		})
	}
	got := referenceGreedy(t, e, prompts[0], 16)
	wg.Wait()
	if !slices.Equal(got, want) {
		t.Errorf("Sequence.Generate beside the scheduler %v, alone %v", got, want)
	}
}

// TestSchedulerPreemptsWhenFull: when running sequences outgrow the KV
// cache, the most recently admitted ones end with StopPreempted (their
// pages freed) so the others go on; every stream ends and no page leaks.
func TestSchedulerPreemptsWhenFull(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 128) // 4 pages of 32 tokens
	s := newSched(t, e, SchedulerOptions{Parallel: 4, PrefixCacheBytes: -1})
	var wg sync.WaitGroup
	reasons := make([]string, 4)
	for i, p := range schedPrompts(e, 4) {
		wg.Go(func() {
			st, err := s.Submit(context.Background(), Request{Prompt: p[:12], MaxTokens: 200, Constraint: noEOG{}})
			if err != nil {
				t.Error(err)
				return
			}
			_, _, ev := collect(t, st)
			reasons[i] = ev.Reason
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for _, r := range reasons {
		counts[r]++
	}
	if counts[StopPreempted] == 0 || counts[StopContext] == 0 || counts[StopError] != 0 {
		t.Errorf("reasons %v: want some preempted and at least one reaching the context limit", reasons)
	}
	st, _ := s.Submit(context.Background(), Request{Prompt: []int32{1, 2}, MaxTokens: 1})
	collect(t, st)
	if got := s.Stats(); got.KVPagesUsed != 0 || got.Preempted != uint64(counts[StopPreempted]) {
		t.Errorf("after: %+v", got)
	}
}

// TestShutdownRejectsQueued: Shutdown ends the requests still waiting in
// the queue at once (StopRejected, ErrClosed; Started reports they never
// ran) while the running one goes on to its end; Started of an admitted
// request gives its prompt and cached tokens, as its final usage does.
func TestShutdownRejectsQueued(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 1024)
	s := newSched(t, e, SchedulerOptions{Parallel: 1})
	p := schedPrompts(e, 1)[0]
	run, err := s.Submit(t.Context(), Request{Prompt: p, MaxTokens: 600, Constraint: noEOG{}})
	if err != nil {
		t.Fatal(err)
	}
	u, ran, err := run.Started(t.Context())
	if err != nil || !ran || u.PromptTokens != len(p) || u.CachedTokens != 0 {
		t.Fatalf("Started of the first request: %+v %v %v", u, ran, err)
	}
	var queued []*Stream
	for range 3 {
		st, err := s.Submit(t.Context(), Request{Prompt: p, MaxTokens: 4})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, st)
	}
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	for i, st := range queued {
		_, ran, err := st.Started(t.Context())
		if err != nil || ran {
			t.Errorf("queued request %d: Started ran %v, %v", i, ran, err)
		}
		ids, _, last := collect(t, st)
		if len(ids) != 0 || last.Reason != StopRejected || !errors.Is(last.Err, ErrClosed) || last.Usage.CompletionTokens != 0 {
			t.Errorf("queued request %d: %d tokens, final %+v; want StopRejected, ErrClosed", i, len(ids), last)
		}
	}
	if got := s.Stats(); got.FinishedBy[StopLength] != 0 {
		t.Errorf("the queued requests were rejected only after the running one ended: %+v", got)
	}
	ids, _, last := collect(t, run)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if len(ids) != 600 || last.Reason != StopLength || last.Usage.PromptTokens != u.PromptTokens {
		t.Errorf("running request: %d tokens, final %+v; want 600, StopLength", len(ids), last)
	}
	if got := s.Stats().FinishedBy; got[StopRejected] != 3 {
		t.Errorf("finished by reason %v, want 3 rejected", got)
	}
	if _, err := s.Submit(t.Context(), Request{Prompt: p}); !errors.Is(err, ErrClosed) {
		t.Errorf("Submit after Shutdown: %v, want ErrClosed", err)
	}
}

// TestCheckErrors: Check (and Submit) return typed errors that still match
// ErrBadRequest and ErrPromptTooLong, for the prompt and for logit biases
// outside the vocabulary or not finite.
func TestCheckErrors(t *testing.T) {
	e := schedEngine(t, "qwen2-tiny-Q8_0.gguf", 256)
	s := newSched(t, e, SchedulerOptions{Parallel: 1})
	nv := int32(e.Model.Config.NVocab)
	var bad *BadRequestError
	var long *PromptTooLongError
	if err := s.Check(Request{Prompt: make([]int32, 300)}); !errors.As(err, &long) || !errors.Is(err, ErrPromptTooLong) || long.Tokens != 300 || long.MaxSeqLen != 256 {
		t.Errorf("long prompt: %v", err)
	}
	for _, req := range []Request{
		{Prompt: []int32{1, nv}},
		{},
		{Prompt: []int32{1}, Sampling: sampler.Params{LogitBias: map[int32]float64{nv: 1}}},
		{Prompt: []int32{1}, Sampling: sampler.Params{LogitBias: map[int32]float64{3: math.NaN()}}},
	} {
		err := s.Check(req)
		if !errors.As(err, &bad) || !errors.Is(err, ErrBadRequest) || strings.HasPrefix(bad.Reason, "engine") {
			t.Errorf("%+v: %v, want a *BadRequestError", req, err)
		}
		if _, err := s.Submit(t.Context(), req); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Submit %+v: %v, want ErrBadRequest", req, err)
		}
	}
	if err := s.Check(Request{Prompt: []int32{1, 2}, Sampling: sampler.Params{LogitBias: map[int32]float64{5: -100}}}); err != nil {
		t.Errorf("a valid request: %v", err)
	}
}
