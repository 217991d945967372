// Package kvcache stores the attention cache of every sequence an engine runs.
//
// The cache is paged (Kwon et al. 2023, "Efficient Memory Management for Large
// Language Model Serving with PagedAttention"): memory is a pool of pages of
// PageSize tokens, each page holding, for every layer, PageSize rows of Width
// values. A sequence is a list of pages. Sequences can share the pages of a
// common prefix (Fork), which is how the prefix cache reuses a prompt's KV
// without copying it; a shared page is copied before it is written.
//
// What a row holds is the model's business. For MLA (DeepSeek-V2/V3,
// DeepSeek-V2 paper §2.1.2) a row is the compressed latent c_KV [kv_lora_rank]
// followed by the rotated shared key k_pe [qk_rope_head_dim] — the only
// per-token state absorbed-MLA attention needs. For grouped-query attention a
// row is K [n_head_kv·head_dim] followed by V [n_head_kv·head_dim].
package kvcache

import (
	"errors"
	"fmt"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/kernels"
)

// ErrFull is returned when a sequence needs more pages than the cache has free.
var ErrFull = errors.New("kvcache: cache is full")

// SeqID names one sequence in a Cache.
type SeqID int32

// Config is the geometry of a cache.
type Config struct {
	NLayer   int        // layers with attention
	Width    int        // values per token per layer
	Type     dtype.Type // F16 (default, as llama.cpp) or F32
	Capacity int        // tokens across all sequences
	PageSize int        // tokens per page; 0 means 32
}

// BytesPerToken is the memory one token of one sequence occupies:
// NLayer × Width × element size.
func (c Config) BytesPerToken() int64 {
	es := int64(2)
	if c.Type == dtype.F32 {
		es = 4
	}
	return int64(c.NLayer) * int64(c.Width) * es
}

type page struct {
	f16 []uint16  // [NLayer][PageSize][Width] when Type is F16
	f32 []float32 // same when Type is F32
}

type seq struct {
	pages []int32
	n     int // tokens
}

// Cache is a paged KV cache. It is not safe for concurrent use; the engine
// serialises access.
type Cache struct {
	cfg      Config
	maxPages int
	pages    []page
	refs     []int32
	free     []int32
	seqs     map[SeqID]*seq
	next     SeqID
}

// New allocates the page table of a cache (page memory is allocated when a
// page is first used). It returns an error for a non-positive geometry or a
// type other than F16/F32.
func New(cfg Config) (*Cache, error) {
	if cfg.PageSize == 0 {
		cfg.PageSize = 32
	}
	if cfg.Type != dtype.F16 && cfg.Type != dtype.F32 {
		return nil, fmt.Errorf("kvcache: cache type %s not supported (F16 or F32)", cfg.Type)
	}
	if cfg.NLayer <= 0 || cfg.Width <= 0 || cfg.Capacity <= 0 || cfg.PageSize <= 0 {
		return nil, fmt.Errorf("kvcache: bad geometry %+v", cfg)
	}
	maxPages := (cfg.Capacity + cfg.PageSize - 1) / cfg.PageSize
	return &Cache{cfg: cfg, maxPages: maxPages, seqs: map[SeqID]*seq{}}, nil
}

// Config returns the cache geometry.
func (c *Cache) Config() Config { return c.cfg }

// NewSeq creates an empty sequence.
func (c *Cache) NewSeq() SeqID {
	id := c.next
	c.next++
	c.seqs[id] = &seq{}
	return id
}

// Len is the number of tokens stored for s (0 for an unknown sequence).
func (c *Cache) Len(s SeqID) int {
	if q := c.seqs[s]; q != nil {
		return q.n
	}
	return 0
}

// UsedPages is the number of pages referenced by at least one sequence.
func (c *Cache) UsedPages() int { return len(c.pages) - len(c.free) }

// MaxPages is the number of pages the cache may allocate.
func (c *Cache) MaxPages() int { return c.maxPages }

// AllocatedBytes is the memory held by the pages allocated so far (used or
// free for reuse).
func (c *Cache) AllocatedBytes() int64 {
	return int64(len(c.pages)) * int64(c.cfg.PageSize) * c.cfg.BytesPerToken()
}

// FreeTokens is how many more tokens fit in pages not yet in use.
func (c *Cache) FreeTokens() int { return (c.maxPages - c.UsedPages()) * c.cfg.PageSize }

func (c *Cache) allocPage() (int32, error) {
	if n := len(c.free); n > 0 {
		id := c.free[n-1]
		c.free = c.free[:n-1]
		c.refs[id] = 1
		return id, nil
	}
	if len(c.pages) >= c.maxPages {
		return 0, ErrFull
	}
	n := c.cfg.NLayer * c.cfg.PageSize * c.cfg.Width
	var p page
	if c.cfg.Type == dtype.F16 {
		p.f16 = make([]uint16, n)
	} else {
		p.f32 = make([]float32, n)
	}
	c.pages = append(c.pages, p)
	c.refs = append(c.refs, 1)
	return int32(len(c.pages) - 1), nil
}

func (c *Cache) release(id int32) {
	c.refs[id]--
	if c.refs[id] == 0 {
		c.free = append(c.free, id)
	}
}

// Append extends s by n positions and returns the first new position. Rows
// for the new positions must then be written with Write. If the cache has no
// room, it returns ErrFull and s is unchanged.
func (c *Cache) Append(s SeqID, n int) (int, error) {
	q := c.seqs[s]
	if q == nil {
		return 0, fmt.Errorf("kvcache: unknown sequence %d", s)
	}
	ps := c.cfg.PageSize
	start := q.n
	need := (start+n+ps-1)/ps - len(q.pages)
	// Copy-on-write: the page receiving position start may be shared.
	cow := start%ps != 0 && n > 0 && c.refs[q.pages[start/ps]] > 1
	extra := need
	if cow {
		extra++
	}
	if extra > c.maxPages-c.UsedPages() {
		return 0, ErrFull
	}
	if cow {
		old := q.pages[start/ps]
		id, err := c.allocPage()
		if err != nil {
			return 0, err
		}
		copy(c.pages[id].f16, c.pages[old].f16)
		copy(c.pages[id].f32, c.pages[old].f32)
		c.release(old)
		q.pages[start/ps] = id
	}
	for i := 0; i < need; i++ {
		id, err := c.allocPage()
		if err != nil {
			return 0, err
		}
		q.pages = append(q.pages, id)
	}
	q.n += n
	return start, nil
}

// Truncate shortens s to n tokens, releasing pages no longer needed.
func (c *Cache) Truncate(s SeqID, n int) {
	q := c.seqs[s]
	if q == nil || n >= q.n {
		return
	}
	if n < 0 {
		n = 0
	}
	keep := (n + c.cfg.PageSize - 1) / c.cfg.PageSize
	for _, id := range q.pages[keep:] {
		c.release(id)
	}
	q.pages = q.pages[:keep]
	q.n = n
}

// Free removes s and releases its pages.
func (c *Cache) Free(s SeqID) {
	c.Truncate(s, 0)
	delete(c.seqs, s)
}

// Fork creates a new sequence holding the first n tokens of src. Whole pages
// are shared (reference counted); the last partial page is copied so both
// sequences can append independently.
func (c *Cache) Fork(src SeqID, n int) (SeqID, error) {
	q := c.seqs[src]
	if q == nil {
		return 0, fmt.Errorf("kvcache: unknown sequence %d", src)
	}
	if n > q.n || n < 0 {
		return 0, fmt.Errorf("kvcache: fork of %d tokens from a sequence of %d", n, q.n)
	}
	ps := c.cfg.PageSize
	full := n / ps
	partial := n%ps != 0
	if partial && c.UsedPages() >= c.maxPages && len(c.free) == 0 {
		return 0, ErrFull
	}
	dst := &seq{n: n}
	for _, id := range q.pages[:full] {
		c.refs[id]++
		dst.pages = append(dst.pages, id)
	}
	if partial {
		id, err := c.allocPage()
		if err != nil {
			for _, id := range dst.pages {
				c.release(id)
			}
			return 0, err
		}
		old := q.pages[full]
		copy(c.pages[id].f16, c.pages[old].f16)
		copy(c.pages[id].f32, c.pages[old].f32)
		dst.pages = append(dst.pages, id)
	}
	id := c.next
	c.next++
	c.seqs[id] = dst
	return id, nil
}

func (c *Cache) offset(q *seq, layer, pos int) (int32, int) {
	ps := c.cfg.PageSize
	return q.pages[pos/ps], (layer*ps + pos%ps) * c.cfg.Width
}

// Write stores row [Width] for (s, layer, pos), converting to the cache type.
// pos must be below Len(s).
func (c *Cache) Write(s SeqID, layer, pos int, row []float32) {
	q := c.seqs[s]
	id, off := c.offset(q, layer, pos)
	p := &c.pages[id]
	if p.f32 != nil {
		copy(p.f32[off:off+c.cfg.Width], row)
		return
	}
	kernels.F32ToF16Row(p.f16[off:off+c.cfg.Width], row[:c.cfg.Width])
}

// Span returns the stored rows of (s, layer) from position pos to the end of
// the page holding pos (at most Len(s)): n rows of Width values as F16 bits
// (f16) or float32 (f32) — exactly one of the two is non-nil. Attention loops
// walk a sequence page by page with it.
func (c *Cache) Span(s SeqID, layer, pos int) (f16 []uint16, f32 []float32, n int) {
	q := c.seqs[s]
	ps := c.cfg.PageSize
	n = ps - pos%ps
	if pos+n > q.n {
		n = q.n - pos
	}
	id, off := c.offset(q, layer, pos)
	p := &c.pages[id]
	w := c.cfg.Width
	if p.f32 != nil {
		return nil, p.f32[off : off+n*w], n
	}
	return p.f16[off : off+n*w], nil, n
}
