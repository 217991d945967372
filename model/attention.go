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
	need := map[kvcache.SeqID]int{}
	var order []kvcache.SeqID
	for t, sq := range r.b.Seq {
		p := int(r.b.Pos[t]) + 1
		if old, ok := need[sq]; !ok {
			order = append(order, sq)
			need[sq] = p
		} else if p > old {
			need[sq] = p
		}
	}
	total := 0
	for _, sq := range order {
		total += need[sq] * width
	}
	buf := r.s.get("kvrows", total)
	k := &kvRows{bySeq: make(map[kvcache.SeqID][]float32, len(order)), b: r.b}
	off := 0
	for _, sq := range order {
		nrows := need[sq]
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
				for i := range out {
					out[i] = kernels.F16ToF32(f16[i])
				}
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
