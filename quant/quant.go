// Package quant is dseek's slow, obviously correct reference for ggml's
// tensor block formats: dequantization, quantization and the integer dot
// products of a weight row with a quantized activation row.
//
// It is the specification the fast kernels are tested against. Every function
// follows a named llama.cpp function (ggml/src/ggml-quants.c and the scalar
// paths of ggml/src/ggml-cpu/ggml-cpu-quants.c at commit c392e509, the commit
// that produced dseek's fixtures), with the same float operations in the same
// order:
//
//   - Quantize is what llama-quantize writes without an importance matrix
//     (ggml_quantize_chunk -> quantize_<type> -> quantize_row_<type>_ref, or
//     quantize_iq4_nl / quantize_iq4_xs). It reproduces llama-quantize's bytes
//     bit for bit (tested against the fixture models and against bytes dumped
//     from ggml itself, see testdata/README.md).
//   - QuantizeActivations is ggml's from_float of the vec_dot type as the x86
//     build runs it (AVX path of quantize_row_q8_0 / quantize_row_q8_1,
//     quantize_row_q8_K_ref, fp32 -> fp16 / bf16 conversion).
//   - VecDot is the scalar (generic) ggml_vec_dot_<w>_<a>: exact integer sums
//     per block, then float scales, accumulated in ggml's order.
//
// # Floating point
//
// ggml-quants.c is compiled into ggml-base, which llama.cpp builds for the
// baseline x86-64 target (no -march=native), so its float arithmetic is plain
// IEEE single precision without fused multiply-add. Go may fuse x*y+z on
// arm64 (and amd64 with GOAMD64=v3), which changes last bits and, through the
// scale searches of the K-quants, whole blocks: a gcc build of ggml-quants.c
// with -march=native (FMA contraction) writes different bytes for about 5% of
// the Q4_K/Q6_K blocks of the fixture models. Every product that is later
// added, in the same expression or through a variable, is therefore written
// float32(a*b), which the Go spec defines as a rounding point that forbids
// fusion; TestNoFusedMultiplyAdd checks that the arm64 and amd64-v3 code of
// this package contains no fused multiply-add.
//
// Rows are []byte in GGUF's little-endian block layout; a row of n elements of
// type t occupies t.RowBytes(n) bytes. Nothing here keeps state.
package quant

import (
	"fmt"

	"github.com/dseek-ai/dseek/dtype"
)

// format gathers the reference functions of one type. Row functions receive
// buffers whose lengths the exported entry points have already checked.
type format struct {
	dequant func(src []byte, dst []float32) // ggml dequantize_row_* / to_float
	quant   func(src []float32, dst []byte) // llama-quantize's quantizer (ref)
	act     func(src []float32, dst []byte) // ggml-cpu from_float on x86; nil if not an activation type
	vecDot  func(n int, w, a []byte) float32
	vdt     dtype.Type // ggml vec_dot_type
}

// formatOf returns the reference functions of t, or false if dseek does not
// implement t. Weight types have vecDot set; Q8_1 and Q8_K are activation
// types only.
func formatOf(t dtype.Type) (format, bool) {
	switch t {
	case dtype.F32:
		return format{dequantF32, quantF32, quantF32, vecDotF32, dtype.F32}, true
	case dtype.F16:
		return format{dequantF16, quantF16, quantF16, vecDotF16, dtype.F16}, true
	case dtype.BF16:
		return format{dequantBF16, quantBF16, quantBF16, vecDotBF16, dtype.BF16}, true
	case dtype.Q8_0:
		return format{dequantQ8_0, quantQ8_0Ref, quantQ8_0X86, vecDotQ8_0, dtype.Q8_0}, true
	case dtype.Q8_1:
		return format{dequantQ8_1, quantQ8_1Ref, quantQ8_1X86, nil, dtype.Q8_1}, true
	case dtype.Q8_K:
		return format{dequantQ8_K, quantQ8_KRef, quantQ8_KRef, nil, dtype.Q8_K}, true
	case dtype.Q4_0:
		return format{dequantQ4_0, quantQ4_0, nil, vecDotQ4_0, dtype.Q8_0}, true
	case dtype.Q4_1:
		return format{dequantQ4_1, quantQ4_1, nil, vecDotQ4_1, dtype.Q8_1}, true
	case dtype.Q5_0:
		return format{dequantQ5_0, quantQ5_0, nil, vecDotQ5_0, dtype.Q8_0}, true
	case dtype.Q5_1:
		return format{dequantQ5_1, quantQ5_1, nil, vecDotQ5_1, dtype.Q8_1}, true
	case dtype.Q2_K:
		return format{dequantQ2_K, quantQ2_K, nil, vecDotQ2_K, dtype.Q8_K}, true
	case dtype.Q3_K:
		return format{dequantQ3_K, quantQ3_K, nil, vecDotQ3_K, dtype.Q8_K}, true
	case dtype.Q4_K:
		return format{dequantQ4_K, quantQ4_K, nil, vecDotQ4_K, dtype.Q8_K}, true
	case dtype.Q5_K:
		return format{dequantQ5_K, quantQ5_K, nil, vecDotQ5_K, dtype.Q8_K}, true
	case dtype.Q6_K:
		return format{dequantQ6_K, quantQ6_K, nil, vecDotQ6_K, dtype.Q8_K}, true
	case dtype.IQ4_NL:
		return format{dequantIQ4_NL, quantIQ4_NL, nil, vecDotIQ4_NL, dtype.Q8_0}, true
	case dtype.IQ4_XS:
		return format{dequantIQ4_XS, quantIQ4_XS, nil, vecDotIQ4_XS, dtype.Q8_K}, true
	}
	return format{}, false
}

func errUnsupported(t dtype.Type) error {
	return fmt.Errorf("quant: type %v not supported", t)
}

// Supported reports whether dseek can Dequantize, Quantize and VecDot weights
// of type t: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, IQ4_NL and IQ4_XS. The activation-only types Q8_1 and Q8_K can
// be quantized and dequantized but are not weight types, so they report false.
func Supported(t dtype.Type) bool {
	f, ok := formatOf(t)
	return ok && f.vecDot != nil
}

// VecDotType returns the type an activation row must have to be dotted with a
// weight row of type t (ggml's type_traits_cpu[t].vec_dot_type): F32, F16 and
// BF16 pair with themselves; Q4_0, Q5_0, Q8_0 and IQ4_NL with Q8_0; Q4_1 and
// Q5_1 with Q8_1; the K-quants and IQ4_XS with Q8_K. For the activation types
// Q8_1 and Q8_K it returns t itself (so QuantizeActivations(dtype.Q8_K, ...)
// produces Q8_K). For a type this package does not implement it returns t;
// check Supported first.
func VecDotType(t dtype.Type) dtype.Type {
	if f, ok := formatOf(t); ok {
		return f.vdt
	}
	return t
}

// rowBytes returns t's byte count for n elements, or an error naming op if n
// is not a whole number of blocks.
func rowBytes(op string, t dtype.Type, n int) (int, error) {
	if t.BlockSize() == 0 {
		return 0, errUnsupported(t)
	}
	if n < 0 || n%t.BlockSize() != 0 {
		return 0, fmt.Errorf("quant: %s %v: %d elements is not a multiple of the block size %d", op, t, n, t.BlockSize())
	}
	return n / t.BlockSize() * t.BlockBytes(), nil
}

// Dequantize decodes one row of type t into dst (ggml's dequantize_row_<t>,
// or the fp16/bf16 -> fp32 conversion). len(dst) is the element count and must
// be a multiple of t's block size; src must hold exactly t.RowBytes(len(dst))
// bytes. It returns an error for an unsupported type or wrong lengths.
// Supported: every Supported type plus Q8_1 and Q8_K.
func Dequantize(t dtype.Type, src []byte, dst []float32) error {
	f, ok := formatOf(t)
	if !ok {
		return errUnsupported(t)
	}
	want, err := rowBytes("Dequantize", t, len(dst))
	if err != nil {
		return err
	}
	if len(src) != want {
		return fmt.Errorf("quant: Dequantize %v: src has %d bytes, want %d for %d elements", t, len(src), want, len(dst))
	}
	f.dequant(src, dst)
	return nil
}

// Quantize encodes the row src as type t into dst exactly as llama-quantize
// does without an importance matrix (ggml_quantize_chunk with quant_weights
// NULL: quantize_row_<t>_ref for the legacy and K-quants, quantize_iq4_nl and
// quantize_iq4_xs for the IQ4 types, ggml_fp32_to_fp16/bf16 for F16/BF16).
// len(src) must be a multiple of t's block size and dst exactly
// t.RowBytes(len(src)) bytes long. Supported: every Supported type plus Q8_1
// and Q8_K (their reference quantizers). Errors: unsupported type, lengths.
func Quantize(t dtype.Type, src []float32, dst []byte) error {
	f, ok := formatOf(t)
	if !ok {
		return errUnsupported(t)
	}
	want, err := rowBytes("Quantize", t, len(src))
	if err != nil {
		return err
	}
	if len(dst) != want {
		return fmt.Errorf("quant: Quantize %v: dst has %d bytes, want %d for %d elements", t, len(dst), want, len(src))
	}
	f.quant(src, dst)
	return nil
}

// QuantizeActivations converts the activation row src to VecDotType(t), the
// type VecDot pairs with weights of type t, the way ggml-cpu's from_float of
// that type does on x86: Q8_0 and Q8_1 by the AVX path of
// quantize_row_q8_0/quantize_row_q8_1 (scale 127/amax, round half to even,
// Q8_1 with s = fp16(d*sum)), Q8_K by quantize_row_q8_K_ref (with bsums),
// F16/BF16 by rounding to nearest even, F32 by copying. dst must be exactly
// VecDotType(t).RowBytes(len(src)) bytes. Errors: unsupported type, lengths.
func QuantizeActivations(t dtype.Type, src []float32, dst []byte) error {
	f, ok := formatOf(t)
	if !ok {
		return errUnsupported(t)
	}
	a, _ := formatOf(f.vdt)
	want, err := rowBytes("QuantizeActivations", f.vdt, len(src))
	if err != nil {
		return err
	}
	if len(dst) != want {
		return fmt.Errorf("quant: QuantizeActivations for %v: dst has %d bytes, want %d %v bytes for %d elements", t, len(dst), want, f.vdt, len(src))
	}
	a.act(src, dst)
	return nil
}

// VecDot returns the dot product of one weight row w of type t (n elements)
// with one activation row a of type VecDotType(t) (n elements), with the
// semantics of ggml's scalar ggml_vec_dot_<t>_<vec_dot_type>: per block an
// exact integer sum of products, then the block's float scales, accumulated in
// ggml's order (F32/F16/BF16: products summed in float64). n must be a
// multiple of t's block size, len(w) == t.RowBytes(n) and
// len(a) == VecDotType(t).RowBytes(n). Errors: unsupported type, lengths.
func VecDot(t dtype.Type, n int, w []byte, a []byte) (float32, error) {
	f, ok := formatOf(t)
	if !ok || f.vecDot == nil {
		return 0, errUnsupported(t)
	}
	wantW, err := rowBytes("VecDot", t, n)
	if err != nil {
		return 0, err
	}
	wantA, err := rowBytes("VecDot", f.vdt, n)
	if err != nil {
		return 0, err
	}
	if len(w) != wantW {
		return 0, fmt.Errorf("quant: VecDot %v: weight row has %d bytes, want %d for %d elements", t, len(w), wantW, n)
	}
	if len(a) != wantA {
		return 0, fmt.Errorf("quant: VecDot %v: activation row has %d bytes, want %d %v bytes for %d elements", t, len(a), wantA, f.vdt, n)
	}
	return f.vecDot(n, w, a), nil
}
