package quantize

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// chunkElems is the target number of elements encoded per worker and chunk.
const chunkElems = 1 << 18

// RowReader encodes a tensor row by row as it is read: an io.Reader of the
// tensor's bytes in type T (ggml block layout, rows in order). Rows come
// from a fill function as float32 and are encoded with quant.Quantize
// (llama.cpp's reference quantizers, or the F16/BF16/F32 conversions) by a
// few goroutines, a chunk of rows at a time, so memory stays bounded by the
// chunk size whatever the tensor size. Errors of fill or the encoder are
// returned by Read.
type RowReader struct {
	ctx     context.Context
	typ     dtype.Type
	rowLen  int64
	rows    int64
	outRow  int64
	threads int
	fill    func(lo, hi int64, dst []float32) error
	done    func(rows int64)
	next    int64
	buf     []byte
	pos     int
}

// NewRowReader returns a RowReader for rows × rowLen elements encoded as
// typ. fill(lo, hi, dst) must write rows [lo, hi) to dst ((hi-lo) × rowLen
// floats, row-major); it is called concurrently for disjoint ranges.
// done(n), if not nil, is called after each chunk of n rows. Errors: a type quant cannot encode, a row length
// that is not a multiple of typ's block size.
func NewRowReader(ctx context.Context, typ dtype.Type, rowLen, rows int64, threads int,
	fill func(lo, hi int64, dst []float32) error, done func(rows int64)) (*RowReader, error) {
	outRow, err := typ.RowBytes(rowLen)
	if err != nil {
		return nil, err
	}
	if !quant.Supported(typ) {
		return nil, fmt.Errorf("quantize: cannot encode %s", typ)
	}
	return &RowReader{ctx: ctx, typ: typ, rowLen: rowLen, rows: rows, outRow: outRow,
		threads: max(1, threads), fill: fill, done: done}, nil
}

// Size is the total number of bytes the reader produces.
func (r *RowReader) Size() int64 { return r.rows * r.outRow }

// Read implements io.Reader.
func (r *RowReader) Read(b []byte) (int, error) {
	if r.pos == len(r.buf) {
		if r.next == r.rows {
			return 0, io.EOF
		}
		if err := r.encodeChunk(); err != nil {
			return 0, err
		}
	}
	n := copy(b, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// encodeChunk encodes the next chunk of rows into buf, spread over the
// workers.
func (r *RowReader) encodeChunk() error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	per := max(int64(1), chunkElems/max(r.rowLen, 1)) // rows per worker
	n := min(per*int64(r.threads), r.rows-r.next)
	if int64(cap(r.buf)) < n*r.outRow {
		r.buf = make([]byte, n*r.outRow)
	}
	r.buf, r.pos = r.buf[:n*r.outRow], 0
	first := r.next
	step := (n + int64(r.threads) - 1) / int64(r.threads)
	errs := make([]error, r.threads)
	var wg sync.WaitGroup
	for w := range r.threads {
		lo, hi := first+int64(w)*step, min(first+int64(w+1)*step, first+n)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = r.encodeRows(lo, hi, r.buf[(lo-first)*r.outRow:(hi-first)*r.outRow])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.next += n
	if r.done != nil {
		r.done(n)
	}
	return nil
}

func (r *RowReader) encodeRows(lo, hi int64, dst []byte) error {
	f := make([]float32, (hi-lo)*r.rowLen)
	if err := r.fill(lo, hi, f); err != nil {
		return err
	}
	for i := range hi - lo {
		if err := quant.Quantize(r.typ, f[i*r.rowLen:(i+1)*r.rowLen], dst[i*r.outRow:(i+1)*r.outRow]); err != nil {
			return err
		}
	}
	return nil
}
