// Package model holds the architectures dseek runs — deepseek2 (MLA +
// DeepSeekMoE), qwen2 and llama — as typed weights bound to GGUF tensors and
// one top-to-bottom forward pass each.
//
// Shapes are written outermost first: x [n_tokens, n_embd] means
// x[t*n_embd+i]. Features come from GGUF metadata and from which tensors
// exist (attn_q vs attn_q_a, attn_kv_b vs attn_k_b/attn_v_b, exp_probs_b),
// never from widths or layer counts.
package model

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
)

// Options changes how a model computes.
type Options struct {
	// Precision of activations for F16/BF16 weights (see kernels.Precision).
	Precision kernels.Precision
	// RouterHook, if set, is called for every token of every MoE layer with
	// the router's decision (layer index, token index in the batch). The
	// slices are only valid during the call. Used by tests and tracing.
	RouterHook func(layer, token int, r Routing)
	// WeightAlloc, if set, gives memory for the weights the forward pass
	// multiplies with (every 2-D and 3-D weight; token_embd.weight only when
	// it doubles as the output head): they are copied there with
	// gguf.File.ReadTensor instead of viewed in the file's mapping. The
	// engine passes a huge-page arena (internal/hugepage). It is called once
	// per copied tensor with the tensor's size in bytes and must return
	// exactly that many writable bytes (any alignment works; 64 bytes is
	// best for the kernels) that stay valid while the Model is used. A
	// gathered-only token_embd stays in the file, so only the rows of
	// tokens seen become resident. Errors from WeightAlloc fail Load naming
	// the tensor.
	WeightAlloc func(size int) ([]byte, error)
}

// Batch is a set of tokens to run in one forward pass. Tokens of one
// sequence must be in order and continue that sequence: the first has
// position Len(seq) of the KV cache, the next one more, and so on.
type Batch struct {
	Tokens []int32         // [n_tokens] token ids
	Pos    []int32         // [n_tokens] position of each token in its sequence
	Seq    []kvcache.SeqID // [n_tokens] sequence of each token
	Output []bool          // [n_tokens] whether logits are wanted for the token
}

// Add appends a token to the batch.
func (b *Batch) Add(tok int32, pos int32, seq kvcache.SeqID, output bool) {
	b.Tokens = append(b.Tokens, tok)
	b.Pos = append(b.Pos, pos)
	b.Seq = append(b.Seq, seq)
	b.Output = append(b.Output, output)
}

// Clear empties the batch, keeping its memory.
func (b *Batch) Clear() {
	b.Tokens, b.Pos, b.Seq, b.Output = b.Tokens[:0], b.Pos[:0], b.Seq[:0], b.Output[:0]
}

// NumOutputs is the number of tokens whose logits are wanted.
func (b *Batch) NumOutputs() int {
	n := 0
	for _, o := range b.Output {
		if o {
			n++
		}
	}
	return n
}

// ErrBadBatch is returned for a batch whose token ids, positions or
// sequences are inconsistent.
var ErrBadBatch = errors.New("model: bad batch")

// architecture is what one model family implements.
type architecture interface {
	// attention computes the attention block of layer il for the batch: h
	// [n, n_embd] is the normalised input, out [n, n_embd] receives the
	// result. It writes the batch's KV rows into the cache first.
	attention(r *run, il int, h, out []float32) error
	// ffn computes the feed-forward block of layer il for n rows of h into out.
	ffn(r *run, il int, h, out []float32, n int) error
	// norms returns the attention and FFN rms_norm weights of layer il.
	norms(il int) (attn, ffn []float32)
	// paramCount is the number of weights of the architecture's layers.
	describe() string
}

// Model is a loaded model: configuration and weight views into the GGUF file.
// It is immutable after Load and safe for concurrent Forward calls with
// distinct States and caches.
type Model struct {
	Config  *Config
	opt     Options
	tokEmbd kernels.Matrix // [n_vocab, n_embd]
	outNorm []float32      // [n_embd]
	output  kernels.Matrix // [n_vocab, n_embd]
	rope    *kernels.RopeCache
	arch    architecture
}

// Load binds the weights of f for its architecture. f must stay open while
// the model is used. It returns ErrUnsupportedArch for an unknown
// architecture and an error naming the tensor for a missing or mis-shaped
// tensor or an unsupported tensor type.
func Load(f *gguf.File, opt Options) (*Model, error) {
	cfg, err := ReadConfig(f)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, opt: opt}
	b := &binder{f: f, alloc: opt.WeightAlloc}
	if cfg.NVocab <= 0 {
		if ti, ok := f.Tensor("token_embd.weight"); ok && len(ti.Dims) == 2 {
			cfg.NVocab = int(ti.Dims[1])
		}
	}
	if b.has("output.weight") {
		// Only gathered: copying it would make every row resident.
		b.alloc = nil
	}
	m.tokEmbd = b.matrix("token_embd.weight", cfg.NVocab, cfg.NEmbd)
	b.alloc = opt.WeightAlloc
	m.outNorm = b.vector("output_norm.weight", cfg.NEmbd)
	if out, ok := b.optMatrix("output.weight", cfg.NVocab, cfg.NEmbd); ok {
		m.output = out
	} else {
		m.output = m.tokEmbd // tied embeddings
	}
	switch cfg.Arch {
	case "deepseek2":
		m.arch = bindDeepseek2(b, cfg)
	case "llama", "qwen2":
		m.arch = bindDense(b, cfg)
	}
	if b.err != nil {
		return nil, b.err
	}
	m.rope = kernels.NewRopeCache(cfg.Rope)
	return m, nil
}

// KVConfig is the KV cache geometry for this model holding capacity tokens
// in total, stored as typ (F16 or F32): one cache layer per main layer
// (Config.NLayer, MTP layers excluded).
func (m *Model) KVConfig(capacity int, typ dtype.Type) kvcache.Config {
	return kvcache.Config{NLayer: m.Config.NLayer, Width: m.Config.KVWidth(), Type: typ, Capacity: capacity}
}

// KVBytesPerToken is the KV cache memory of one token with the cache stored
// as typ: n_layer × width × element size, where n_layer is Config.NLayer
// (the main layers; MTP layers get no cache) and width is kv_lora_rank +
// qk_rope_head_dim for MLA and 2·n_head_kv·head_dim for GQA.
func (m *Model) KVBytesPerToken(typ dtype.Type) int64 {
	return m.KVConfig(1, typ).BytesPerToken()
}

// Describe is a one-line summary of the architecture's features. A file
// with MTP layers (Config.NNextN > 0) gets a note that they are not run.
func (m *Model) Describe() string {
	d := m.arch.describe()
	if n := m.Config.NNextN; n > 0 {
		d += fmt.Sprintf("; + %d MTP (nextn) layer(s) in the file, not run", n)
	}
	return d
}

// State is the scratch memory of forward passes. It grows to the largest
// batch seen and is reused; one State must not be used by two Forward calls
// at once.
type State struct {
	ws         kernels.Workspace
	buf        map[string][]float32
	ibuf       map[string][]int32
	worker     [][]float32 // per-worker scratch of the attention loops
	slots      [][]int32   // MoE: batch slots routed to each expert
	seqs       []batchSeq  // the batch's sequences
	buf16      map[string][]uint16
	keys, vals kernels.Matrix // attention operands of the current head/group
	softmax    maskedSoftmax
	run        run // the forward pass in flight (kept here so it is not allocated per call)
	mu         sync.Mutex
}

// NewState returns an empty State.
func NewState() *State {
	s := &State{buf: map[string][]float32{}, ibuf: map[string][]int32{}, buf16: map[string][]uint16{}}
	s.softmax.fn = s.softmax.rows
	return s
}

// get16 returns the named uint16 (f16 bits) scratch buffer with length n.
func (s *State) get16(name string, n int) []uint16 {
	b := s.buf16[name]
	if cap(b) < n {
		b = make([]uint16, n, n+n/2) // grows with the context: leave room
		s.buf16[name] = b
	}
	return b[:n]
}

// geti returns the named int32 scratch buffer with length n.
func (s *State) geti(name string, n int) []int32 {
	b := s.ibuf[name]
	if cap(b) < n {
		b = make([]int32, n)
		s.ibuf[name] = b
	}
	return b[:n]
}

// workerBuf returns worker w's scratch slice of length n; safe to call from
// the pool's workers concurrently.
func (s *State) workerBuf(w, n int) []float32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.worker) <= w {
		s.worker = append(s.worker, nil)
	}
	if cap(s.worker[w]) < n {
		s.worker[w] = make([]float32, n+n/2)
	}
	return s.worker[w][:n]
}

// get returns the named scratch buffer with length n (contents undefined).
func (s *State) get(name string, n int) []float32 {
	b := s.buf[name]
	if cap(b) < n {
		b = make([]float32, n, n+n/2) // buffers grow with the context: leave room
		s.buf[name] = b
	}
	return b[:n]
}

// run is one forward pass in flight.
type run struct {
	ctx   context.Context
	m     *Model
	pool  *kernels.Pool
	s     *State
	b     *Batch
	cache *kvcache.Cache
	n     int       // tokens in the batch
	rope  []float32 // [n, rope dims] cos/sin pairs of each token's position
}

// ropeCS returns the rope cos/sin pairs of batch token t (computed once per
// forward pass, shared by all layers).
func (r *run) ropeCS(t int) []float32 {
	d := r.m.Config.Rope.NDims
	return r.rope[t*d : (t+1)*d]
}

func (r *run) matmul(w *kernels.Matrix, x []float32, n int, y []float32) error {
	return kernels.MatMul(r.pool, &r.s.ws, r.m.opt.Precision, w, x, n, y)
}

// Forward runs batch b through the model. Each token's KV is appended to its
// sequence in cache, and logits [n_outputs, n_vocab] are written for the
// tokens whose Output flag is set, in batch order. On error the cache is left
// as it was before the call. It returns ErrBadBatch (wrapped) for an
// inconsistent batch, kvcache.ErrFull when the cache has no room, and
// ctx.Err() when ctx is cancelled between layers.
func (m *Model) Forward(ctx context.Context, pool *kernels.Pool, s *State, b *Batch, cache *kvcache.Cache, logits []float32) error {
	n := len(b.Tokens)
	if n == 0 {
		return nil
	}
	if len(b.Pos) != n || len(b.Seq) != n || len(b.Output) != n {
		return fmt.Errorf("%w: %d tokens but %d positions, %d sequences, %d output flags", ErrBadBatch, n, len(b.Pos), len(b.Seq), len(b.Output))
	}
	nOut := b.NumOutputs()
	if len(logits) < nOut*m.Config.NVocab {
		return fmt.Errorf("%w: logits buffer holds %d values, need %d", ErrBadBatch, len(logits), nOut*m.Config.NVocab)
	}
	if err := m.reserve(b, cache); err != nil {
		return err
	}
	s.run = run{ctx: ctx, m: m, pool: pool, s: s, b: b, cache: cache, n: n}
	err := m.forward(&s.run, logits)
	s.run = run{} // drop references to the caller's batch and context
	if err != nil {
		m.unreserve(b, cache)
	}
	return err
}

// reserve checks the batch against the cache and appends its positions.
func (m *Model) reserve(b *Batch, cache *kvcache.Cache) error {
	next := map[kvcache.SeqID]int32{}
	count := map[kvcache.SeqID]int{}
	var order []kvcache.SeqID
	for i, tok := range b.Tokens {
		if tok < 0 || int(tok) >= m.Config.NVocab {
			return fmt.Errorf("%w: token id %d at batch index %d is outside the vocabulary [0, %d)", ErrBadBatch, tok, i, m.Config.NVocab)
		}
		sq := b.Seq[i]
		p, seen := next[sq]
		if !seen {
			p = int32(cache.Len(sq))
			order = append(order, sq)
		}
		if b.Pos[i] != p {
			return fmt.Errorf("%w: token %d of sequence %d has position %d, want %d", ErrBadBatch, i, sq, b.Pos[i], p)
		}
		next[sq] = p + 1
		count[sq]++
	}
	for k, sq := range order {
		if _, err := cache.Append(sq, count[sq]); err != nil {
			for _, done := range order[:k] {
				cache.Truncate(done, cache.Len(done)-count[done])
			}
			return err
		}
	}
	return nil
}

func (m *Model) unreserve(b *Batch, cache *kvcache.Cache) {
	first := map[kvcache.SeqID]int32{}
	for i, sq := range b.Seq {
		if p, ok := first[sq]; !ok || b.Pos[i] < p {
			first[sq] = b.Pos[i]
		}
	}
	for sq, p := range first {
		cache.Truncate(sq, int(p))
	}
}

func (m *Model) forward(r *run, logits []float32) error {
	c := m.Config
	n := r.n
	x := r.s.get("x", n*c.NEmbd)
	for i, tok := range r.b.Tokens {
		if err := kernels.DequantizeRow(&m.tokEmbd, int(tok), x[i*c.NEmbd:(i+1)*c.NEmbd]); err != nil {
			return fmt.Errorf("model: token_embd: %w", err)
		}
	}
	d := c.Rope.NDims
	r.rope = r.s.get("rope", n*d)
	for t := 0; t < n; t++ {
		m.rope.CosSin(int(r.b.Pos[t]), r.rope[t*d:(t+1)*d])
	}
	h := r.s.get("h", n*c.NEmbd)
	tmp := r.s.get("tmp", n*c.NEmbd)
	rows := n // rows of x still computed (only outputs after the last attention)
	for il := 0; il < c.NLayer; il++ {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		an, fn := m.arch.norms(il)
		for i := 0; i < rows; i++ {
			kernels.RMSNorm(h[i*c.NEmbd:(i+1)*c.NEmbd], x[i*c.NEmbd:(i+1)*c.NEmbd], an, c.RMSNormEps)
		}
		if err := m.arch.attention(r, il, h, tmp); err != nil {
			return err
		}
		if il == c.NLayer-1 {
			rows = compactOutputs(r.b.Output, c.NEmbd, x, tmp)
		}
		// ffn_inp = attn_out + residual (llama.cpp adds in this order)
		for i := 0; i < rows*c.NEmbd; i++ {
			x[i] = tmp[i] + x[i]
		}
		for i := 0; i < rows; i++ {
			kernels.RMSNorm(h[i*c.NEmbd:(i+1)*c.NEmbd], x[i*c.NEmbd:(i+1)*c.NEmbd], fn, c.RMSNormEps)
		}
		if err := m.arch.ffn(r, il, h, tmp, rows); err != nil {
			return err
		}
		for i := 0; i < rows*c.NEmbd; i++ {
			x[i] = tmp[i] + x[i]
		}
	}
	for i := 0; i < rows; i++ {
		kernels.RMSNorm(h[i*c.NEmbd:(i+1)*c.NEmbd], x[i*c.NEmbd:(i+1)*c.NEmbd], m.outNorm, c.RMSNormEps)
	}
	if err := r.matmul(&m.output, h, rows, logits); err != nil {
		return fmt.Errorf("model: output: %w", err)
	}
	return nil
}

// compactOutputs moves the rows of a and b whose output flag is set to the
// front, in order, and returns their count.
func compactOutputs(out []bool, width int, a, b []float32) int {
	k := 0
	for i, o := range out {
		if !o {
			continue
		}
		if k != i {
			copy(a[k*width:(k+1)*width], a[i*width:(i+1)*width])
			copy(b[k*width:(k+1)*width], b[i*width:(i+1)*width])
		}
		k++
	}
	return k
}
