package gguf

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/dseek-ai/dseek/dtype"
)

// maxDims is ggml's GGML_MAX_DIMS: a tensor has at most 4 dimensions.
const maxDims = 4

// TensorInfo describes one tensor of the model.
//
// Dims is in file (ggml) order: Dims[0] = ne0 is the number of elements per
// row (the fastest-varying index), so a weight matrix [n_out, n_in] in
// PyTorch terms is stored as Dims = [n_in, n_out].
type TensorInfo struct {
	Name   string
	Type   dtype.Type
	Dims   []uint64 // ne0, ne1, ...; 0 to 4 entries
	Offset uint64   // byte offset within its part's data section, a multiple of the alignment
	Size   int64    // bytes of data: RowBytes(Dims[0]) × Rows()
	Split  int      // index of the file part holding the data, 0-based (0 unless split)
}

// NumElements returns the product of Dims (1 for a tensor with no dims).
// For tensors read by this package the product is known not to overflow.
func (t *TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d)
	}
	return n
}

// Rows returns the number of rows: the product of Dims[1:] (1 for a 1-D or
// 0-D tensor).
func (t *TensorInfo) Rows() int64 {
	n := int64(1)
	if len(t.Dims) > 1 {
		for _, d := range t.Dims[1:] {
			n *= int64(d)
		}
	}
	return n
}

// tensorSize validates a shape for type typ and returns its size in bytes:
// at most 4 dims, each <= MaxInt64, rows and element count not overflowing
// int64 (ggml's check in gguf_init_from_file_impl), ne0 a multiple of the
// block size, and RowBytes(ne0) × rows not overflowing. Errors are plain
// messages; callers add the tensor name and offset.
func tensorSize(typ dtype.Type, dims []uint64) (int64, error) {
	if len(dims) > maxDims {
		return 0, fmt.Errorf("%d dimensions, at most %d allowed (GGML_MAX_DIMS)", len(dims), maxDims)
	}
	if !typ.Known() {
		return 0, fmt.Errorf("unknown tensor type id %d", uint32(typ))
	}
	ne0, rows := uint64(1), uint64(1)
	for i, d := range dims {
		if d > math.MaxInt64 {
			return 0, fmt.Errorf("dimension %d is %d, above the int64 range", i, d)
		}
		if i == 0 {
			ne0 = d
			continue
		}
		hi, lo := bits.Mul64(rows, d)
		if hi != 0 || lo > math.MaxInt64 {
			return 0, fmt.Errorf("shape %v has more than 2^63-1 rows", dims)
		}
		rows = lo
	}
	if hi, lo := bits.Mul64(ne0, rows); hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("shape %v has more than 2^63-1 elements", dims)
	}
	rowBytes, err := typ.RowBytes(int64(ne0))
	if err != nil {
		return 0, fmt.Errorf("%s row of %d elements is not a multiple of the block size %d", typ, ne0, typ.BlockSize())
	}
	hi, lo := bits.Mul64(uint64(rowBytes), rows)
	if hi != 0 || lo > math.MaxInt64 {
		return 0, fmt.Errorf("shape %v of %s is more than 2^63-1 bytes", dims, typ)
	}
	return int64(lo), nil
}

// alignUp rounds off up to a multiple of align (a power of two). ok is false
// on overflow past MaxInt64.
func alignUp(off int64, align uint64) (int64, bool) {
	if off < 0 || align == 0 || align > math.MaxInt64 {
		return 0, false
	}
	a := int64(align)
	if off > math.MaxInt64-(a-1) {
		return 0, false
	}
	return (off + a - 1) &^ (a - 1), true
}
