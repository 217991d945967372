// Package engine loads a model with its tokenizer and runs sequences on it:
// prompt prefill in micro-batches, decode, sampling, and the KV cache.
package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/hugepage"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
	"github.com/dseek-ai/dseek/model"
	"github.com/dseek-ai/dseek/tokenizer"
)

// Options configures Load.
type Options struct {
	Threads   int               // compute threads; 0 = number of CPUs
	CtxSize   int               // KV cache capacity in tokens across all sequences; 0 = min(model context, 4096); rounded up to whole KV cache pages
	KVF32     bool              // store the KV cache as float32 instead of float16 (llama.cpp's default)
	Precision kernels.Precision // activation precision for F16/BF16 weights (zero: auto)
	NoMmap    bool              // read tensors into memory instead of mapping the file
	HugePages HugePages         // where the multiplied weights live (zero: HugePagesAuto)
	UBatch    int               // prompt tokens per forward pass; 0 = 512
	// RouterHook is passed to model.Options (tests and tracing).
	RouterHook func(layer, token int, r model.Routing)
}

// Engine is a loaded model ready to run. Its methods are safe for concurrent
// use; forward passes are serialised.
type Engine struct {
	File      *gguf.File
	Model     *model.Model
	Tokenizer *tokenizer.Tokenizer
	Pool      *kernels.Pool
	Cache     *kvcache.Cache
	opt       Options

	arena *hugepage.Arena // weights copied out of the file, or nil

	mu    sync.Mutex // guards forward passes, state and cache
	state *model.State
	batch model.Batch
}

// ErrContextFull is returned when a sequence would exceed the context size.
var ErrContextFull = errors.New("engine: context is full")

// Load opens the GGUF at path (part 1 of a split model works too), binds the
// model and its tokenizer, and allocates the KV cache. Errors name the file
// and what is wrong with it.
func Load(ctx context.Context, path string, opt Options) (*Engine, error) {
	f, err := gguf.OpenWith(path, gguf.Options{NoMmap: opt.NoMmap})
	if err != nil {
		return nil, err
	}
	e, err := New(ctx, f, opt)
	if err != nil {
		f.Close()
		return nil, err
	}
	return e, nil
}

// New builds an engine over an open GGUF file; the engine owns f afterwards.
func New(ctx context.Context, f *gguf.File, opt Options) (*Engine, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opt.Threads <= 0 {
		opt.Threads = runtime.NumCPU()
	}
	if opt.UBatch <= 0 {
		opt.UBatch = 512
	}
	cfg, err := model.ReadConfig(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	// The tokenizer comes before the weights: a broken vocabulary fails
	// before gigabytes are copied, and its construction garbage is returned
	// to the OS before the weights become resident, so it does not add to
	// the peak RSS.
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	m, arena, err := loadWeights(ctx, f, cfg, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	// From here on every error return must release the arena.
	ok := false
	defer func() {
		if !ok && arena != nil {
			arena.Close()
		}
	}()
	// llama.cpp takes n_vocab from the token list and requires token_embd to
	// match it; a mismatch would let the tokenizer emit ids the model has no
	// row for, or the sampler pick ids the tokenizer cannot print.
	if n := tok.VocabSize(); n != m.Config.NVocab {
		return nil, fmt.Errorf("%s: tokenizer.ggml.tokens has %d tokens but the model's vocabulary (token_embd.weight) has %d", f.Path, n, m.Config.NVocab)
	}
	if opt.CtxSize <= 0 {
		opt.CtxSize = min(m.Config.NCtxTrain, 4096)
		if opt.CtxSize <= 0 {
			opt.CtxSize = 4096
		}
	}
	kvType := dtype.F16
	if opt.KVF32 {
		kvType = dtype.F32
	}
	cache, err := kvcache.New(m.KVConfig(opt.CtxSize, kvType))
	if err != nil {
		return nil, err
	}
	// The cache holds whole pages: its real capacity is the context every
	// check uses, so a prompt is never refused for a size the cache has.
	opt.CtxSize = cache.MaxPages() * cache.Config().PageSize
	ok = true
	return &Engine{
		File: f, Model: m, Tokenizer: tok, Cache: cache, opt: opt, arena: arena,
		Pool: kernels.NewPool(opt.Threads), state: model.NewState(),
	}, nil
}

// Options returns the options the engine runs with (defaults filled in).
func (e *Engine) Options() Options { return e.opt }

// Close releases the worker pool, the weights' huge-page arena and the
// model file.
func (e *Engine) Close() error {
	e.Pool.Close()
	if e.arena != nil {
		e.arena.Close()
	}
	return e.File.Close()
}

// Sequence is one token stream with its KV cache: a chat, a completion, a
// prompt being scored.
type Sequence struct {
	e      *Engine
	id     kvcache.SeqID
	tokens []int32
	logits []float32 // logits of the last evaluated position [n_vocab]
	buf    []float32 // reused logits buffer of single-position evaluations
}

// NewSequence starts an empty sequence. Close it to free its KV cache.
func (e *Engine) NewSequence() *Sequence {
	e.mu.Lock()
	defer e.mu.Unlock()
	return &Sequence{e: e, id: e.Cache.NewSeq()}
}

// Tokens are the ids the sequence holds (do not modify).
func (s *Sequence) Tokens() []int32 { return s.tokens }

// Len is the number of tokens in the sequence.
func (s *Sequence) Len() int { return len(s.tokens) }

// Logits are the logits [n_vocab] after the last token evaluated, or nil.
func (s *Sequence) Logits() []float32 { return s.logits }

// Truncate drops tokens from position n on (keeping the KV of the first n).
// The last logits are forgotten.
func (s *Sequence) Truncate(n int) {
	if n >= len(s.tokens) {
		return
	}
	s.e.mu.Lock()
	s.e.Cache.Truncate(s.id, n)
	s.e.mu.Unlock()
	s.tokens = s.tokens[:n]
	s.logits = nil
}

// Close frees the sequence's KV cache.
func (s *Sequence) Close() {
	s.e.mu.Lock()
	s.e.Cache.Free(s.id)
	s.e.mu.Unlock()
}

// Eval appends tokens to the sequence, running them through the model in
// micro-batches of Options.UBatch. If all is true it returns the logits of
// every new position [len(tokens), n_vocab] (a new slice); otherwise only the
// last position's [n_vocab], in a buffer the sequence reuses: it stays valid
// until the next Eval. It returns ErrContextFull (wrapped) if the tokens do
// not fit in the KV cache; then the sequence is unchanged.
func (s *Sequence) Eval(ctx context.Context, tokens []int32, all bool) ([]float32, error) {
	e := s.e
	nv := e.Model.Config.NVocab
	if len(tokens) == 0 {
		return nil, errors.New("engine: no tokens to evaluate")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if free := e.Cache.FreeTokens() + pageSlack(e.Cache, s.id); len(tokens) > free {
		return nil, fmt.Errorf("%w: %d tokens do not fit (%d in the sequence, room for %d more)", ErrContextFull, len(tokens), len(s.tokens), free)
	}
	var out []float32
	if all {
		out = make([]float32, len(tokens)*nv)
	} else {
		// the last position's logits, in a buffer the sequence keeps
		if cap(s.buf) < nv {
			s.buf = make([]float32, nv)
		}
		out = s.buf[:nv]
	}
	start := len(s.tokens)
	for i := 0; i < len(tokens); i += e.opt.UBatch {
		j := min(i+e.opt.UBatch, len(tokens))
		e.batch.Clear()
		for k := i; k < j; k++ {
			e.batch.Add(tokens[k], int32(start+k), s.id, all || k == len(tokens)-1)
		}
		var dst []float32
		if all {
			dst = out[i*nv : j*nv]
		} else if j == len(tokens) {
			dst = out
		}
		if err := e.Model.Forward(ctx, e.Pool, e.state, &e.batch, e.Cache, dst); err != nil {
			e.Cache.Truncate(s.id, start)
			if errors.Is(err, kvcache.ErrFull) {
				err = fmt.Errorf("%w: %v", ErrContextFull, err)
			}
			return nil, err
		}
	}
	s.tokens = append(s.tokens, tokens...)
	s.logits = out[len(out)-nv:]
	return out, nil
}

// pageSlack is the room left in the last, partly filled page of seq.
func pageSlack(c *kvcache.Cache, seq kvcache.SeqID) int {
	ps := c.Config().PageSize
	n := c.Len(seq)
	if n%ps == 0 {
		return 0
	}
	return ps - n%ps
}
