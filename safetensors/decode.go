package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/quant"
)

// E4M3ToF32 decodes an OCP FP8 E4M3 ("e4m3fn", safetensors F8_E4M3) byte:
// sign bit, 4 exponent bits with bias 7, 3 mantissa bits; exponent 0 is
// subnormal (m · 2^-9); 0x7F and 0xFF are NaN; there are no infinities
// (largest finite 448). Exact.
func E4M3ToF32(b byte) float32 { return e4m3Table[b] }

// e4m3Table holds E4M3ToF32 for every byte; computed once, never written.
var e4m3Table = func() (t [256]float32) {
	for i := range t {
		t[i] = decodeE4M3(byte(i))
	}
	return t
}()

func decodeE4M3(b byte) float32 {
	e, m := int(b>>3)&0xF, float32(b&7)
	var v float32
	switch {
	case e == 15 && m == 7:
		v = float32(math.NaN())
	case e == 0:
		v = m / 8 * (1.0 / 64)
	default:
		v = (1 + m/8) * float32(math.Ldexp(1, e-7))
	}
	if b&0x80 != 0 {
		v = -v
	}
	return v
}

// E5M2ToF32 decodes an FP8 E5M2 byte (safetensors F8_E5M2): the top byte of
// an IEEE binary16, so exact through F16ToF32.
func E5M2ToF32(b byte) float32 { return quant.F16ToF32(uint16(b) << 8) }

// E8M0ToF32 decodes an unsigned power-of-two scale byte (OCP "E8M0",
// safetensors F8_E8M0, DeepSeek's "ue8m0" scale format): 2^(e-127), with
// 0xFF meaning NaN. Exact (e = 0 gives 2^-127, a float32 subnormal).
func E8M0ToF32(e byte) float32 {
	if e == 0xFF {
		return float32(math.NaN())
	}
	return float32(math.Ldexp(1, int(e)-127))
}

// ToFloat32 decodes len(dst) elements of dtype from src (little-endian, as
// stored) into dst. Supported: F32, F16, BF16, F64 (rounded to float32),
// F8_E4M3, F8_E5M2, F8_E8M0, I8, U8, I16, I32 (converted). Errors: an
// unsupported dtype, len(src) != len(dst) × element size.
func ToFloat32(dtype string, src []byte, dst []float32) error {
	es, ok := ElementSize(dtype)
	if !ok {
		return fmt.Errorf("safetensors: unknown dtype %q", dtype)
	}
	if len(src) != len(dst)*es {
		return fmt.Errorf("safetensors: %d bytes of %s for %d elements", len(src), dtype, len(dst))
	}
	le := binary.LittleEndian
	switch dtype {
	case "F32":
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(src[4*i:]))
		}
	case "F16":
		for i := range dst {
			dst[i] = quant.F16ToF32(le.Uint16(src[2*i:]))
		}
	case "BF16":
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(le.Uint16(src[2*i:])) << 16)
		}
	case "F8_E4M3":
		for i, b := range src {
			dst[i] = e4m3Table[b]
		}
	default:
		return toFloat32Other(dtype, src, dst)
	}
	return nil
}

// toFloat32Other converts the rarer dtypes element by element.
func toFloat32Other(dtype string, src []byte, dst []float32) error {
	le := binary.LittleEndian
	var f func(i int) float32
	switch dtype {
	case "F64":
		f = func(i int) float32 { return float32(math.Float64frombits(le.Uint64(src[8*i:]))) }
	case "F8_E5M2":
		f = func(i int) float32 { return E5M2ToF32(src[i]) }
	case "F8_E8M0":
		f = func(i int) float32 { return E8M0ToF32(src[i]) }
	case "U8":
		f = func(i int) float32 { return float32(src[i]) }
	case "I8":
		f = func(i int) float32 { return float32(int8(src[i])) }
	case "I16":
		f = func(i int) float32 { return float32(int16(le.Uint16(src[2*i:]))) }
	case "I32":
		f = func(i int) float32 { return float32(int32(le.Uint32(src[4*i:]))) }
	default:
		return fmt.Errorf("safetensors: cannot convert %s to float32", dtype)
	}
	for i := range dst {
		dst[i] = f(i)
	}
	return nil
}

// BlockScales is a block-wise FP8 scale tensor (DeepSeek-V3's
// `weight_scale_inv`) decoded to float32: one factor per B0×B1 tile of a
// Rows×Cols weight, [ceil(Rows/B0), ceil(Cols/B1)], edge tiles partial.
type BlockScales struct {
	Rows, Cols int64
	B0, B1     int64
	V          []float32
}

// ReadBlockScales reads the scale tensor s of a [rows, cols] weight with
// tiles b0×b1. The scales may be stored as F32 or BF16 factors, or as
// F8_E8M0 / U8 power-of-two exponents (UE8M0, 2^(e-127)). Errors: a shape
// other than [ceil(rows/b0), ceil(cols/b1)], an unsupported dtype, I/O.
func ReadBlockScales(s *Tensor, rows, cols, b0, b1 int64) (*BlockScales, error) {
	if b0 <= 0 || b1 <= 0 {
		return nil, fmt.Errorf("safetensors: bad FP8 block size %dx%d", b0, b1)
	}
	sr, sc := (rows+b0-1)/b0, (cols+b1-1)/b1
	if len(s.Shape) != 2 || s.Shape[0] != sr || s.Shape[1] != sc {
		return nil, fmt.Errorf("safetensors: %s has shape %v, want [%d %d] for a [%d %d] weight in %dx%d blocks", s.Name, s.Shape, sr, sc, rows, cols, b0, b1)
	}
	raw := make([]byte, s.Size)
	if err := s.ReadAt(raw, 0); err != nil {
		return nil, err
	}
	dt := s.DType
	if dt == "U8" {
		dt = "F8_E8M0"
	}
	switch dt {
	case "F32", "BF16", "F16", "F8_E8M0":
	default:
		return nil, fmt.Errorf("safetensors: %s: unsupported scale dtype %s", s.Name, s.DType)
	}
	v := make([]float32, sr*sc)
	if err := ToFloat32(dt, raw, v); err != nil {
		return nil, err
	}
	return &BlockScales{Rows: rows, Cols: cols, B0: b0, B1: b1, V: v}, nil
}

// DequantRow decodes row r of the FP8 E4M3 weight, q = its Cols bytes, into
// dst: w[r][j] = e4m3(q[j]) · scale[r/B0][j/B1], one float32 product per
// element (DeepSeek-V3 inference/kernel.py weight_dequant).
func (s *BlockScales) DequantRow(r int64, q []byte, dst []float32) error {
	if r < 0 || r >= s.Rows || int64(len(q)) != s.Cols || len(dst) != len(q) {
		return fmt.Errorf("safetensors: DequantRow(%d): %d bytes into %d floats for a [%d %d] weight", r, len(q), len(dst), s.Rows, s.Cols)
	}
	sc := (s.Cols + s.B1 - 1) / s.B1
	row := s.V[(r/s.B0)*sc : (r/s.B0+1)*sc]
	for j, b := range q {
		dst[j] = e4m3Table[b] * row[int64(j)/s.B1]
	}
	return nil
}
