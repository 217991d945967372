package synth

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quant"
	"github.com/dseek-ai/dseek/quantize"
)

// Options configures Write.
type Options struct {
	Shape Shape             // the (possibly cut) shape to write
	Type  quantize.FileType // llama-quantize file type (general.file_type)
	Seed  uint64            // random seed; the file is a pure function of (Shape, Type, Seed, Exact)
	// Exact quantizes freshly drawn normal values for every row with the
	// reference quantizers (llama-quantize's bytes for those values). It is
	// slow: about a minute per billion parameters per core for K-quants.
	// Without it each tensor is assembled from blocks drawn at random from a
	// pool of quantized blocks of normal values (per tensor type, 2^15 blocks),
	// which is valid, varied data written at disk speed.
	Exact bool
	// Threads generating data in parallel; 0 = GOMAXPROCS.
	Threads int
	// Progress, if set, is called from the writing goroutine after each
	// chunk with the tensor bytes written so far and the total.
	Progress func(done, total int64)
}

// Result describes a written file.
type Result struct {
	Tensors []TensorSpec
	KVs     []KV
	Params  int64 // elements of all tensors (llama_model_n_params)
	Bytes   int64 // tensor data bytes (llama_model_size)
}

// chunkBytes bounds the output bytes generated per job.
const chunkBytes = 1 << 20

// poolBlocks is the number of quantized blocks (or runs of 64 values for
// F16/BF16) in a pool, unless the model holds fewer.
const poolBlocks = 1 << 15

// WriteFile writes the model to path (through a temporary file renamed at
// the end, so an interrupted run leaves no partial model). A path that
// exists and is not a regular file (/dev/null, a pipe) is written in place.
func WriteFile(ctx context.Context, path string, opt Options) (*Result, error) {
	if st, err := os.Stat(path); err == nil && !st.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		res, err := Write(ctx, f, opt)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return res, err
	}
	tmp := path + ".partial"
	f, err := os.Create(tmp)
	if err != nil {
		return nil, err
	}
	res, err := Write(ctx, f, opt)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	return res, nil
}

// Write streams the model to w: metadata, tensor infos, then tensor data
// generated chunk by chunk by opt.Threads workers and written in order, so
// memory stays at a few MiB per thread whatever the model size. Errors: an
// invalid shape or file type, ctx cancellation, quantization or I/O errors.
func Write(ctx context.Context, w io.Writer, opt Options) (*Result, error) {
	ts, err := Plan(&opt.Shape, opt.Type)
	if err != nil {
		return nil, err
	}
	kvs, err := Metadata(&opt.Shape, opt.Type, ts)
	if err != nil {
		return nil, err
	}
	gw := gguf.NewWriter(w)
	if err := addKVs(gw, kvs); err != nil {
		return nil, err
	}
	res := &Result{Tensors: ts, KVs: kvs}
	for i := range ts {
		if err := gw.AddTensor(ts[i].Name, ts[i].Type, ts[i].Dims); err != nil {
			return nil, err
		}
		res.Params += ts[i].Elements()
		res.Bytes += ts[i].Bytes()
	}
	if err := gw.WriteHeader(); err != nil {
		return nil, err
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	g := &generator{opt: opt, pools: map[poolKey]*pool{}, need: map[dtype.Type]int64{}}
	for i := range ts {
		if ts[i].Init == InitWeight {
			g.need[ts[i].Type] += ts[i].Elements() / int64(max(ts[i].Type.BlockSize(), 64))
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := g.start(ctx, ts, threads)
	var done int64
	for i := range ts {
		r := &chunkReader{ctx: ctx, queue: queue}
		if err := gw.WriteTensorFrom(ts[i].Name, r); err != nil {
			if r.err != nil {
				err = r.err
			}
			return nil, err
		}
		done += ts[i].Bytes()
		if opt.Progress != nil {
			opt.Progress(done, res.Bytes)
		}
	}
	if err := gw.Close(); err != nil {
		return nil, err
	}
	return res, nil
}

// chunk is one unit of generated data: rows [r0, r1) of tensor t.
type chunk struct {
	t      *TensorSpec
	ti     int
	index  int
	r0, r1 int64
	out    chan result
}

type result struct {
	b   []byte
	err error
}

type chunkReader struct {
	ctx   context.Context
	queue <-chan *chunk
	cur   []byte
	err   error
}

// Read hands out the generated chunks in order; WriteTensorFrom reads exactly
// the tensor's size, which is a whole number of chunks.
func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		var c *chunk
		select {
		case c = <-r.queue:
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			return 0, r.err
		}
		if c == nil {
			r.err = errors.New("synth: generator stopped early")
			return 0, r.err
		}
		res := <-c.out
		if res.err != nil {
			r.err = res.err
			return 0, res.err
		}
		r.cur = res.b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

type poolKey struct {
	t    dtype.Type
	init Init
}

type pool struct {
	once sync.Once
	data []byte
	err  error
}

// generator produces tensor data.
type generator struct {
	opt   Options
	mu    sync.Mutex
	pools map[poolKey]*pool
	need  map[dtype.Type]int64 // pool units the model holds per type (caps the pool size)
}

// start launches the chunk producer and threads workers; the returned queue
// yields chunks in file order, each with its own result channel.
func (g *generator) start(ctx context.Context, ts []TensorSpec, threads int) <-chan *chunk {
	jobs := make(chan *chunk, threads)
	queue := make(chan *chunk, 2*threads)
	go func() {
		defer close(jobs)
		defer close(queue)
		for ti := range ts {
			t := &ts[ti]
			rb, _ := t.Type.RowBytes(int64(t.Dims[0]))
			per := max(1, chunkBytes/rb)
			rows := t.Rows()
			for c, r0 := 0, int64(0); r0 < rows; c, r0 = c+1, r0+per {
				ch := &chunk{t: t, ti: ti, index: c, r0: r0, r1: min(rows, r0+per), out: make(chan result, 1)}
				select {
				case queue <- ch:
				case <-ctx.Done():
					return
				}
				select {
				case jobs <- ch:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	for w := 0; w < threads; w++ {
		go func() {
			var scratch []float32
			for ch := range jobs {
				b, err := g.generate(ch, &scratch)
				ch.out <- result{b, err}
			}
		}()
	}
	return queue
}

// rngFor seeds a generator per (seed, tensor, chunk), so data does not
// depend on the thread count.
func (g *generator) rngFor(name string, index int) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(name))
	return rand.New(rand.NewPCG(g.opt.Seed^h.Sum64(), uint64(index)))
}

func (g *generator) generate(ch *chunk, scratch *[]float32) ([]byte, error) {
	t := ch.t
	ne0 := int(t.Dims[0])
	rb, err := t.Type.RowBytes(int64(ne0))
	if err != nil {
		return nil, fmt.Errorf("synth: %s: %w", t.Name, err)
	}
	out := make([]byte, int64(rb)*(ch.r1-ch.r0))
	rng := g.rngFor(t.Name, ch.index)
	if t.Init == InitWeight && !g.opt.Exact && t.Type != dtype.F32 {
		p, err := g.pool(poolKey{t.Type, t.Init})
		if err != nil {
			return nil, err
		}
		fillFromPool(out, p, t.Type, rng)
		return out, nil
	}
	if cap(*scratch) < ne0 {
		*scratch = make([]float32, ne0)
	}
	row := (*scratch)[:ne0]
	for r := ch.r0; r < ch.r1; r++ {
		fillValues(row, t, r, rng)
		dst := out[(r-ch.r0)*int64(rb) : (r-ch.r0+1)*int64(rb)]
		if err := quant.Quantize(t.Type, row, dst); err != nil {
			return nil, fmt.Errorf("synth: %s: %w", t.Name, err)
		}
	}
	return out, nil
}

// fillValues draws the values of row r of t.
func fillValues(row []float32, t *TensorSpec, r int64, rng *rand.Rand) {
	switch t.Init {
	case InitRopeFreqs:
		copy(row, t.values)
	case InitNorm:
		for i := range row {
			row[i] = float32(1 + rng.NormFloat64()*WeightStd/2)
		}
	default:
		for i := range row {
			row[i] = float32(rng.NormFloat64() * WeightStd)
		}
	}
}

// pool returns (building once) the pool of quantized blocks for key.
func (g *generator) pool(key poolKey) ([]byte, error) {
	g.mu.Lock()
	p := g.pools[key]
	if p == nil {
		p = &pool{}
		g.pools[key] = p
	}
	g.mu.Unlock()
	p.once.Do(func() {
		units := max(1, min(poolBlocks, g.need[key.t]))
		n := int(units) * max(key.t.BlockSize(), 64)
		vals := make([]float32, n)
		rng := rand.New(rand.NewPCG(g.opt.Seed, uint64(key.t)<<8|uint64(key.init)))
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * WeightStd)
		}
		rb, err := key.t.RowBytes(int64(n))
		if err != nil {
			p.err = err
			return
		}
		p.data = make([]byte, rb)
		p.err = quant.Quantize(key.t, vals, p.data)
	})
	return p.data, p.err
}

// fillFromPool fills dst with blocks copied from random places of the pool:
// whole quantized blocks for block types, runs of 64 values for F16/BF16.
func fillFromPool(dst, p []byte, t dtype.Type, rng *rand.Rand) {
	unit := t.BlockBytes()
	if t.BlockSize() == 1 {
		unit *= 64
	}
	stride := t.BlockBytes()
	if t.BlockSize() > 1 {
		stride = unit
	}
	slots := uint64((len(p)-unit)/stride + 1)
	for off := 0; off < len(dst); off += unit {
		src := int(rng.Uint64()%slots) * stride
		copy(dst[off:min(off+unit, len(dst))], p[src:src+unit])
	}
}

// Llama3Factors computes the rope_freqs.weight values
// (convert_hf_to_gguf.py LlamaModel.generate_extra_tensors): the per-frequency rope factors [headDim/2] of Llama
// 3.1's rope_scaling for base theta: 1 for wavelengths below
// OrigCtx/HighFreq, Factor above OrigCtx/LowFreq, and a smooth blend between.
func Llama3Factors(r *Llama3Rope, theta float32, headDim int) []float32 {
	out := make([]float32, headDim/2)
	lowWave := float64(r.OrigCtx) / float64(r.LowFreq)
	highWave := float64(r.OrigCtx) / float64(r.HighFreq)
	for i := range out {
		freq := 1 / math.Pow(float64(theta), float64(2*i)/float64(headDim))
		wave := 2 * math.Pi / freq
		switch {
		case wave < highWave:
			out[i] = 1
		case wave > lowWave:
			out[i] = r.Factor
		default:
			smooth := (float64(r.OrigCtx)/wave - float64(r.LowFreq)) / float64(r.HighFreq-r.LowFreq)
			out[i] = float32(1 / ((1-smooth)/float64(r.Factor) + smooth))
		}
	}
	return out
}
