package engine

import (
	"slices"

	"github.com/dseek-ai/dseek/kvcache"
)

// prefixEntry is one cached token sequence whose KV is held by a cache
// sequence of its own (pages shared copy-on-write with forks of it).
type prefixEntry struct {
	tokens []int32       // the tokens whose KV seq holds [n]
	seq    kvcache.SeqID // the cache sequence holding their KV
	used   uint64        // logical clock of the last use, for LRU eviction
}

// prefixCache keeps the KV of finished sequences so that a request whose
// prompt starts with the same tokens skips prefilling them (vLLM's automatic
// prefix caching, SGLang's RadixAttention, here with whole sequences as
// entries and a linear longest-common-prefix search, which is cheap next to
// a forward pass). It is used by the scheduler goroutine with e.mu held.
type prefixCache struct {
	entries  []*prefixEntry
	clock    uint64
	tokens   int  // total tokens over entries
	limit    int  // bound on tokens; 0 = none
	disabled bool // PrefixCacheBytes < 0
	dirty    bool // changed since the last save
}

// newPrefixCache returns a cache bounded to maxBytes of KV (0: no bound,
// < 0: disabled) at bytesPerToken.
func newPrefixCache(maxBytes, bytesPerToken int64) *prefixCache {
	p := &prefixCache{disabled: maxBytes < 0}
	if maxBytes > 0 && bytesPerToken > 0 {
		p.limit = int(max(1, maxBytes/bytesPerToken))
	}
	return p
}

// lookup returns the entry sharing the longest token prefix with prompt and
// the length of that prefix (nil, 0 if none).
func (p *prefixCache) lookup(prompt []int32) (*prefixEntry, int) {
	var best *prefixEntry
	n := 0
	for _, e := range p.entries {
		if k := lcp(e.tokens, prompt); k > n {
			best, n = e, k
		}
	}
	return best, n
}

// lcp is the length of the longest common prefix of a and b.
func lcp(a, b []int32) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// touch marks e as just used.
func (p *prefixCache) touch(e *prefixEntry) {
	p.clock++
	e.used = p.clock
}

// insert adds the KV of tokens held by seq (ownership of seq passes to the
// cache). Entries that are a prefix of tokens are dropped (the new entry
// covers them); if tokens is a prefix of an existing entry, seq is freed
// instead. Then the token bound is enforced.
func (p *prefixCache) insert(c *kvcache.Cache, tokens []int32, seq kvcache.SeqID) {
	if p.disabled || len(tokens) == 0 || (p.limit > 0 && len(tokens) > p.limit) {
		c.Free(seq)
		return
	}
	for _, e := range p.entries {
		if len(e.tokens) >= len(tokens) && lcp(e.tokens, tokens) == len(tokens) {
			c.Free(seq)
			p.touch(e)
			return
		}
	}
	p.entries = slices.DeleteFunc(p.entries, func(e *prefixEntry) bool {
		if lcp(e.tokens, tokens) == len(e.tokens) {
			c.Free(e.seq)
			p.tokens -= len(e.tokens)
			return true
		}
		return false
	})
	e := &prefixEntry{tokens: slices.Clone(tokens), seq: seq}
	p.touch(e)
	p.entries = append(p.entries, e)
	p.tokens += len(tokens)
	p.dirty = true
	for p.limit > 0 && p.tokens > p.limit && p.evictLRU(c, e) {
	}
}

// add registers an entry loaded from disk (no subsumption checks).
func (p *prefixCache) add(tokens []int32, seq kvcache.SeqID) {
	e := &prefixEntry{tokens: tokens, seq: seq}
	p.touch(e)
	p.entries = append(p.entries, e)
	p.tokens += len(tokens)
}

// evictLRU frees the least recently used entry other than keep and reports
// whether there was one.
func (p *prefixCache) evictLRU(c *kvcache.Cache, keep *prefixEntry) bool {
	victim := -1
	for i, e := range p.entries {
		if e != keep && (victim < 0 || e.used < p.entries[victim].used) {
			victim = i
		}
	}
	if victim < 0 {
		return false
	}
	e := p.entries[victim]
	c.Free(e.seq)
	p.tokens -= len(e.tokens)
	p.entries = slices.Delete(p.entries, victim, victim+1)
	p.dirty = true
	return true
}

// pages is an upper bound on the pages eviction could free.
func (p *prefixCache) pages(pageSize int) int {
	n := 0
	for _, e := range p.entries {
		n += pagesFor(len(e.tokens), pageSize)
	}
	return n
}
