// Package dtype is the GGML tensor element type table: the numeric ids that
// GGUF files store, the block geometry of every format, and their names.
//
// The ids and block sizes follow ggml's type_traits table (ggml/src/ggml.c,
// llama.cpp) so a GGUF written by llama.cpp decodes here without translation.
// This package is a leaf: it imports only the standard library, so both the
// GGUF reader and the quantization code can name types.
package dtype

import "fmt"

// Type is a GGML tensor element type, with the id GGUF stores in tensor infos.
type Type uint32

// The GGML type ids (ggml.h enum ggml_type). Gaps are ids ggml has retired.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the K-quants and IQ4_XS, in elements.
const QK_K = 256

type traits struct {
	name       string
	blockSize  int // elements per block
	blockBytes int // bytes per block
}

var table = map[Type]traits{
	F32:     {"F32", 1, 4},
	F16:     {"F16", 1, 2},
	BF16:    {"BF16", 1, 2},
	F64:     {"F64", 1, 8},
	I8:      {"I8", 1, 1},
	I16:     {"I16", 1, 2},
	I32:     {"I32", 1, 4},
	I64:     {"I64", 1, 8},
	Q4_0:    {"Q4_0", 32, 2 + 16},
	Q4_1:    {"Q4_1", 32, 2 + 2 + 16},
	Q5_0:    {"Q5_0", 32, 2 + 4 + 16},
	Q5_1:    {"Q5_1", 32, 2 + 2 + 4 + 16},
	Q8_0:    {"Q8_0", 32, 2 + 32},
	Q8_1:    {"Q8_1", 32, 2 + 2 + 32},
	Q2_K:    {"Q2_K", QK_K, QK_K/16 + QK_K/4 + 2 + 2},
	Q3_K:    {"Q3_K", QK_K, QK_K/8 + QK_K/4 + 12 + 2},
	Q4_K:    {"Q4_K", QK_K, 2 + 2 + 12 + QK_K/2},
	Q5_K:    {"Q5_K", QK_K, 2 + 2 + 12 + QK_K/8 + QK_K/2},
	Q6_K:    {"Q6_K", QK_K, QK_K/2 + QK_K/4 + QK_K/16 + 2},
	Q8_K:    {"Q8_K", QK_K, 4 + QK_K + QK_K/16*2},
	IQ2_XXS: {"IQ2_XXS", QK_K, 2 + QK_K/8*2},
	IQ2_XS:  {"IQ2_XS", QK_K, 2 + QK_K/8*2 + QK_K/32},
	IQ3_XXS: {"IQ3_XXS", QK_K, 2 + 3*(QK_K/8)},
	IQ1_S:   {"IQ1_S", QK_K, 2 + QK_K/8 + QK_K/16},
	IQ4_NL:  {"IQ4_NL", 32, 2 + 16},
	IQ3_S:   {"IQ3_S", QK_K, 2 + QK_K/4 + QK_K/8 + QK_K/32 + 4},
	IQ2_S:   {"IQ2_S", QK_K, 2 + QK_K/4 + QK_K/16},
	IQ4_XS:  {"IQ4_XS", QK_K, 2 + 2 + QK_K/64 + QK_K/2},
	IQ1_M:   {"IQ1_M", QK_K, QK_K/8 + QK_K/16 + QK_K/32},
	TQ1_0:   {"TQ1_0", QK_K, 2 + 4*13},
	TQ2_0:   {"TQ2_0", QK_K, 2 + 64},
	MXFP4:   {"MXFP4", 32, 1 + 16},
}

// Known reports whether t is a type id this table describes (its block
// geometry is known, so tensor sizes can be computed). Whether dseek can also
// compute with it is a separate question answered by the quant package.
func (t Type) Known() bool { _, ok := table[t]; return ok }

// String returns ggml's name for t ("Q4_K", "F16", ...), or "type(N)" for an
// id this table does not know.
func (t Type) String() string {
	if tr, ok := table[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// BlockSize is the number of elements in one block of t (1 for plain types,
// 32 for Q8_0 and friends, 256 for K-quants). It is 0 for an unknown type.
func (t Type) BlockSize() int { return table[t].blockSize }

// BlockBytes is the number of bytes one block of t occupies. It is 0 for an
// unknown type.
func (t Type) BlockBytes() int { return table[t].blockBytes }

// IsQuantized reports whether t is a block-quantized format (block size > 1).
func (t Type) IsQuantized() bool { return table[t].blockSize > 1 }

// RowBytes returns the bytes of a row of n elements of type t.
// It returns an error if t is unknown or n is not a multiple of the block size.
func (t Type) RowBytes(n int64) (int64, error) {
	tr, ok := table[t]
	if !ok {
		return 0, fmt.Errorf("dtype: unknown tensor type id %d", uint32(t))
	}
	if n < 0 || n%int64(tr.blockSize) != 0 {
		return 0, fmt.Errorf("dtype: %s row of %d elements is not a multiple of the block size %d", tr.name, n, tr.blockSize)
	}
	return n / int64(tr.blockSize) * int64(tr.blockBytes), nil
}

// Parse returns the type whose ggml name is s ("q4_k" and "Q4_K" both work).
func Parse(s string) (Type, error) {
	for t, tr := range table {
		if equalFold(tr.name, s) {
			return t, nil
		}
	}
	return 0, fmt.Errorf("dtype: unknown type name %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
