package model

import (
	"sync"

	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/kvcache"
)

// kvRows holds, for every sequence of a batch, the cached rows of one layer
// converted to float32: [len(seq), width].
type kvRows struct {
	bySeq map[kvcache.SeqID][]float32
	b     *Batch
}

// rows returns the float32 KV rows [0, pos] (and beyond) of token t's sequence.
func (k *kvRows) rows(t int) []float32 { return k.bySeq[k.b.Seq[t]] }

// gatherKV converts the cached rows of layer il of every sequence in the
// batch, up to its longest position in the batch, to float32.
func gatherKV(r *run, il, width int) (*kvRows, error) {
	// Sequences of a batch are few; find each one's longest position
	// without allocating.
	seqs := r.s.geti("kvseqs", 0)
	lens := r.s.geti("kvlens", 0)
	for t, sq := range r.b.Seq {
		p := int32(r.b.Pos[t]) + 1
		i := 0
		for i < len(seqs) && kvcache.SeqID(seqs[i]) != sq {
			i++
		}
		if i == len(seqs) {
			seqs = append(seqs, int32(sq))
			lens = append(lens, p)
		} else if p > lens[i] {
			lens[i] = p
		}
	}
	r.s.ibuf["kvseqs"], r.s.ibuf["kvlens"] = seqs, lens
	total := 0
	for _, l := range lens {
		total += int(l) * width
	}
	buf := r.s.get("kvrows", total)
	k := &r.s.kv
	clear(k.bySeq)
	k.b = r.b
	off := 0
	for i, s32 := range seqs {
		sq := kvcache.SeqID(s32)
		nrows := int(lens[i])
		dst := buf[off : off+nrows*width]
		off += nrows * width
		k.bySeq[sq] = dst
		for pos := 0; pos < nrows; {
			f16, f32, cnt := r.cache.Span(sq, il, pos)
			if cnt > nrows-pos {
				cnt = nrows - pos
			}
			out := dst[pos*width : (pos+cnt)*width]
			if f32 != nil {
				copy(out, f32[:cnt*width])
			} else {
				kernels.F16ToF32Row(out, f16[:cnt*width])
			}
			pos += cnt
		}
	}
	return k, nil
}

// firstErr keeps the first error reported by concurrent workers.
type firstErr struct {
	mu  sync.Mutex
	err error
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstErr) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}
