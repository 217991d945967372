// Package safetensors reads Hugging Face safetensors checkpoints: single
// files and sharded models with a model.safetensors.index.json, and decodes
// their element types (BF16, F16, F32, F64, the FP8 formats F8_E4M3 and
// F8_E8M0, integers) to float32.
//
// File format (huggingface/safetensors, docs "Format"): an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte after the header) plus an optional "__metadata__" string map, then
// the tensor bytes, little-endian, row-major (shape outermost first).
//
// Tensor bytes are read with ReadAt on demand, so memory use is bounded by
// what the caller reads at once, not by the file size.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
)

// maxHeader bounds the JSON header (the reference implementation rejects
// headers above 100 MB).
const maxHeader = 100 << 20

// Tensor is one entry of a safetensors header.
type Tensor struct {
	Name  string
	DType string  // "BF16", "F16", "F32", "F8_E4M3", ... as in the header
	Shape []int64 // outermost first (PyTorch order)
	Begin int64   // absolute byte offset of the data in its file
	Size  int64   // bytes
	File  *File   // the file holding the data
}

// NumElements is the product of Shape (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// ReadAt reads len(p) bytes of the tensor data starting at byte off of the
// tensor. Errors: a range outside the tensor, I/O errors.
func (t *Tensor) ReadAt(p []byte, off int64) error {
	if off < 0 || off > t.Size || int64(len(p)) > t.Size-off {
		return fmt.Errorf("safetensors: %s: read of %d bytes at %d outside its %d bytes", t.Name, len(p), off, t.Size)
	}
	if _, err := t.File.f.ReadAt(p, t.Begin+off); err != nil {
		return fmt.Errorf("safetensors: %s: %w", t.Name, err)
	}
	return nil
}

// File is one opened .safetensors file.
type File struct {
	Path     string
	Metadata map[string]string // the "__metadata__" entry, if any
	Tensors  []*Tensor         // sorted by name
	f        *os.File
}

// Open parses the header of the safetensors file at path. Errors name the
// file: a header length beyond the file or 100 MB, malformed JSON, unknown
// dtypes, offsets outside the data section, a size that disagrees with the
// shape and dtype.
func Open(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f, err := parse(fh, path)
	if err != nil {
		fh.Close()
		return nil, err
	}
	return f, nil
}

// Close closes the file.
func (f *File) Close() error { return f.f.Close() }

type rawEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

func parse(fh *os.File, path string) (*File, error) {
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	var lenBuf [8]byte
	if _, err := io.ReadFull(io.NewSectionReader(fh, 0, 8), lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading the header length: %w", path, err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > maxHeader || int64(n) > st.Size()-8 {
		return nil, fmt.Errorf("safetensors: %s: header length %d does not fit the %d-byte file", path, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := fh.ReadAt(hdr, 8); err != nil {
		return nil, fmt.Errorf("safetensors: %s: reading the header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: %s: header JSON: %w", path, err)
	}
	f := &File{Path: path, f: fh}
	dataStart, dataLen := 8+int64(n), st.Size()-8-int64(n)
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: %s: __metadata__: %w", path, err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: %s: tensor %q: %w", path, name, err)
		}
		t, err := checkEntry(name, e, dataLen)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", path, err)
		}
		t.Begin += dataStart
		t.File = f
		f.Tensors = append(f.Tensors, t)
	}
	sort.Slice(f.Tensors, func(i, j int) bool { return f.Tensors[i].Name < f.Tensors[j].Name })
	return f, nil
}

func checkEntry(name string, e rawEntry, dataLen int64) (*Tensor, error) {
	es, ok := ElementSize(e.DType)
	if !ok {
		return nil, fmt.Errorf("tensor %q: unknown dtype %q", name, e.DType)
	}
	n := int64(1)
	for _, d := range e.Shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/8/d) {
			return nil, fmt.Errorf("tensor %q: bad shape %v", name, e.Shape)
		}
		n *= d
	}
	b, end := e.Offsets[0], e.Offsets[1]
	if b < 0 || end < b || end > dataLen {
		return nil, fmt.Errorf("tensor %q: data_offsets %v outside the %d-byte data section", name, e.Offsets, dataLen)
	}
	if end-b != n*int64(es) {
		return nil, fmt.Errorf("tensor %q: %d bytes for shape %v of %s, want %d", name, end-b, e.Shape, e.DType, n*int64(es))
	}
	return &Tensor{Name: name, DType: e.DType, Shape: e.Shape, Begin: b, Size: end - b}, nil
}

// ElementSize returns the bytes per element of a safetensors dtype name and
// whether the name is known.
func ElementSize(dtype string) (int, bool) {
	switch dtype {
	case "BOOL", "U8", "I8", "F8_E4M3", "F8_E5M2", "F8_E8M0":
		return 1, true
	case "F16", "BF16", "I16", "U16":
		return 2, true
	case "F32", "I32", "U32":
		return 4, true
	case "F64", "I64", "U64":
		return 8, true
	}
	return 0, false
}
