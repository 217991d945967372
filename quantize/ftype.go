// Package quantize rewrites a GGUF model into another tensor format the way
// llama.cpp's llama-quantize does: the per-tensor type choice of the
// quantization mixes (llama_tensor_get_type in src/llama-quant.cpp at
// llama.cpp commit c392e509, the commit of dseek's fixtures), the same
// tensor order and metadata edits, and bit-identical tensor bytes (through
// package quant, which reproduces ggml's reference quantizers).
//
// The type-choice logic lives only here; other packages (dseek synth,
// dseek convert) call Plan or NewChooser rather than re-deriving it.
package quantize

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
)

// FileType is llama.cpp's llama_ftype, the value stored in the GGUF key
// general.file_type: the target mix of a quantization.
type FileType uint32

// The llama_ftype values (llama.h). Gaps are retired ids.
const (
	AllF32       FileType = 0
	MostlyF16    FileType = 1
	MostlyQ4_0   FileType = 2
	MostlyQ4_1   FileType = 3
	MostlyQ8_0   FileType = 7
	MostlyQ5_0   FileType = 8
	MostlyQ5_1   FileType = 9
	MostlyQ2_K   FileType = 10
	MostlyQ3_K_S FileType = 11
	MostlyQ3_K_M FileType = 12
	MostlyQ3_K_L FileType = 13
	MostlyQ4_K_S FileType = 14
	MostlyQ4_K_M FileType = 15
	MostlyQ5_K_S FileType = 16
	MostlyQ5_K_M FileType = 17
	MostlyQ6_K   FileType = 18
	MostlyIQ2XXS FileType = 19
	MostlyIQ2XS  FileType = 20
	MostlyQ2_K_S FileType = 21
	MostlyIQ3XS  FileType = 22
	MostlyIQ3XXS FileType = 23
	MostlyIQ1S   FileType = 24
	MostlyIQ4NL  FileType = 25
	MostlyIQ3S   FileType = 26
	MostlyIQ3M   FileType = 27
	MostlyIQ2S   FileType = 28
	MostlyIQ2M   FileType = 29
	MostlyIQ4XS  FileType = 30
	MostlyIQ1M   FileType = 31
	MostlyBF16   FileType = 32
	MostlyTQ1_0  FileType = 36
	MostlyTQ2_0  FileType = 37
)

// ftypeInfo is a file type's llama-quantize name and its default tensor
// type (the switch at the top of llama_model_quantize_impl).
type ftypeInfo struct {
	name string
	def  dtype.Type
}

var ftypes = map[FileType]ftypeInfo{
	AllF32: {"F32", dtype.F32}, MostlyF16: {"F16", dtype.F16}, MostlyBF16: {"BF16", dtype.BF16},
	MostlyQ4_0: {"Q4_0", dtype.Q4_0}, MostlyQ4_1: {"Q4_1", dtype.Q4_1},
	MostlyQ5_0: {"Q5_0", dtype.Q5_0}, MostlyQ5_1: {"Q5_1", dtype.Q5_1}, MostlyQ8_0: {"Q8_0", dtype.Q8_0},
	MostlyQ2_K: {"Q2_K", dtype.Q2_K}, MostlyQ2_K_S: {"Q2_K_S", dtype.Q2_K},
	MostlyQ3_K_S: {"Q3_K_S", dtype.Q3_K}, MostlyQ3_K_M: {"Q3_K_M", dtype.Q3_K}, MostlyQ3_K_L: {"Q3_K_L", dtype.Q3_K},
	MostlyQ4_K_S: {"Q4_K_S", dtype.Q4_K}, MostlyQ4_K_M: {"Q4_K_M", dtype.Q4_K},
	MostlyQ5_K_S: {"Q5_K_S", dtype.Q5_K}, MostlyQ5_K_M: {"Q5_K_M", dtype.Q5_K}, MostlyQ6_K: {"Q6_K", dtype.Q6_K},
	MostlyIQ2XXS: {"IQ2_XXS", dtype.IQ2_XXS}, MostlyIQ2XS: {"IQ2_XS", dtype.IQ2_XS},
	MostlyIQ2S: {"IQ2_S", dtype.IQ2_XS}, MostlyIQ2M: {"IQ2_M", dtype.IQ2_S},
	MostlyIQ3XS: {"IQ3_XS", dtype.IQ3_S}, MostlyIQ3XXS: {"IQ3_XXS", dtype.IQ3_XXS},
	MostlyIQ3S: {"IQ3_S", dtype.IQ3_S}, MostlyIQ3M: {"IQ3_M", dtype.IQ3_S},
	MostlyIQ1S: {"IQ1_S", dtype.IQ1_S}, MostlyIQ1M: {"IQ1_M", dtype.IQ1_M},
	MostlyIQ4NL: {"IQ4_NL", dtype.IQ4_NL}, MostlyIQ4XS: {"IQ4_XS", dtype.IQ4_XS},
	MostlyTQ1_0: {"TQ1_0", dtype.TQ1_0}, MostlyTQ2_0: {"TQ2_0", dtype.TQ2_0},
}

// String returns llama-quantize's name of ft ("Q4_K_M"), or "FileType(N)".
func (ft FileType) String() string {
	if in, ok := ftypes[ft]; ok {
		return in.name
	}
	return fmt.Sprintf("FileType(%d)", uint32(ft))
}

// DefaultType is the tensor type a quantized tensor gets before the per-tensor
// rules of the mix apply (llama_model_quantize_impl's default_type). ok is
// false for an unknown file type.
func (ft FileType) DefaultType() (t dtype.Type, ok bool) {
	in, ok := ftypes[ft]
	return in.def, ok
}

// ParseFileType returns the file type named s, case-insensitively, as
// llama-quantize spells it ("Q4_K_M", "q8_0", "IQ4_XS", "F16", "BF16", "F32").
// Errors: an unknown name (the message lists the known ones).
func ParseFileType(s string) (FileType, error) {
	for ft, in := range ftypes {
		if strings.EqualFold(in.name, s) {
			return ft, nil
		}
	}
	return 0, fmt.Errorf("quantize: unknown type %q (known: %s)", s, strings.Join(FileTypeNames(), ", "))
}

// FileTypeNames lists every known file type name, sorted.
func FileTypeNames() []string {
	var out []string
	for _, in := range ftypes {
		out = append(out, in.name)
	}
	sort.Strings(out)
	return out
}

// needsImatrix reports whether llama-quantize refuses ft without an
// importance matrix for most tensors (the "Missing importance matrix"
// check): dseek has no importance matrices, so these are rejected.
func (ft FileType) needsImatrix() bool {
	switch ft {
	case MostlyIQ2XXS, MostlyIQ2XS, MostlyIQ2S, MostlyIQ1S, MostlyIQ1M, MostlyQ2_K_S:
		return true
	}
	return false
}
