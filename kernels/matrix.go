package kernels

import (
	"fmt"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/quant"
)

// Matrix is a read-only weight matrix [Rows, Cols] stored row-major in one of
// the GGML block formats: row r holds the Cols input weights of output feature
// r, i.e. GGUF ne0 = Cols and ne1 = Rows. Data is normally a view into the
// memory-mapped model file and is never written.
type Matrix struct {
	Type     dtype.Type
	Rows     int    // output features
	Cols     int    // input features (elements per row)
	RowBytes int    // bytes per row
	Data     []byte // [Rows * RowBytes]
}

// NewMatrix checks that data holds exactly rows rows of cols elements of type t
// and returns a Matrix view over it. It returns an error if the type cannot be
// computed with, cols is not a multiple of the type's block size, or the
// length of data is wrong.
func NewMatrix(t dtype.Type, rows, cols int, data []byte) (Matrix, error) {
	if !quant.Supported(t) {
		return Matrix{}, fmt.Errorf("kernels: tensor type %s is not supported", t)
	}
	rb, err := t.RowBytes(int64(cols))
	if err != nil {
		return Matrix{}, err
	}
	if rows < 0 || int64(len(data)) != rb*int64(rows) {
		return Matrix{}, fmt.Errorf("kernels: %s matrix [%d, %d] needs %d bytes, have %d", t, rows, cols, rb*int64(rows), len(data))
	}
	return Matrix{Type: t, Rows: rows, Cols: cols, RowBytes: int(rb), Data: data}, nil
}

// Row returns the bytes of row r.
func (m *Matrix) Row(r int) []byte { return m.Data[r*m.RowBytes : (r+1)*m.RowBytes] }

// SubRows returns the view of rows [r0, r1) as a matrix [r1-r0, Cols].
func (m *Matrix) SubRows(r0, r1 int) Matrix {
	return Matrix{Type: m.Type, Rows: r1 - r0, Cols: m.Cols, RowBytes: m.RowBytes, Data: m.Data[r0*m.RowBytes : r1*m.RowBytes]}
}

// Precision selects how activations are rounded before a dot product with a
// floating-point (F32, F16, BF16) weight matrix. Block-quantized weights always
// see activations quantized per block to the type's vec-dot type (Q8_0, Q8_1 or
// Q8_K), exactly as ggml does, because that is what their integer dot
// products consume.
type Precision int

const (
	// PrecisionAuto (the zero value) rounds activations to f16 for F16
	// weights, as ggml does — an 11-bit mantissa costs at most ~1e-2 in the
	// logits and reproduces llama.cpp's numbers — but keeps them float32 for
	// BF16 weights, where ggml's rounding to bf16 (8-bit mantissa) flips
	// MoE routing decisions and moves logits by O(1) against DeepSeek's
	// reference (measured on the dsref fixtures).
	PrecisionAuto Precision = iota
	// PrecisionF32 keeps activations in float32 for F16/BF16 weights: the
	// product is exact float32 math on the stored weights, as DeepSeek's
	// reference implementation computes.
	PrecisionF32
	// PrecisionGGML rounds activations to the weight's own type first (F16 or
	// BF16), as ggml's vec_dot_type does, to reproduce llama.cpp's numbers.
	PrecisionGGML
)

// ActType is the element type activations are converted to before a dot
// product with m, under precision p.
func (m *Matrix) ActType(p Precision) dtype.Type {
	switch m.Type {
	case dtype.F32:
		return dtype.F32
	case dtype.F16:
		if p == PrecisionF32 {
			return dtype.F32
		}
		return dtype.F16
	case dtype.BF16:
		if p == PrecisionGGML {
			return dtype.BF16
		}
		return dtype.F32
	}
	return quant.VecDotType(m.Type)
}
