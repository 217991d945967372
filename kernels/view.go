package kernels

import (
	"unsafe"

	"github.com/dseek-ai/dseek/dtype"
)

// F16Matrix returns a Matrix [rows, cols] of type F16 viewing data
// [rows*cols] IEEE half-precision bit patterns without copying, so activation
// buffers (e.g. keys gathered from an F16 KV cache) can be multiplied by the
// same kernels as weights. data must not change while the view is in use.
// It assumes a little-endian machine, like the GGUF format.
func F16Matrix(rows, cols int, data []uint16) Matrix {
	data = data[:rows*cols]
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 2*len(data))
	}
	return Matrix{Type: dtype.F16, Rows: rows, Cols: cols, RowBytes: 2 * cols, Data: b}
}

// F32Matrix is F16Matrix for float32 values.
func F32Matrix(rows, cols int, data []float32) Matrix {
	data = data[:rows*cols]
	var b []byte
	if len(data) > 0 {
		b = unsafe.Slice((*byte)(unsafe.Pointer(&data[0])), 4*len(data))
	}
	return Matrix{Type: dtype.F32, Rows: rows, Cols: cols, RowBytes: 4 * cols, Data: b}
}
