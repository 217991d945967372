package gguf

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/dseek-ai/dseek/dtype"
)

// maxTensorName is the longest tensor name ggml can load: GGML_MAX_NAME is 64
// bytes including the terminating NUL (gguf_init_from_file_impl rejects
// names of length >= 64).
const maxTensorName = 63

// Writer streams a GGUF v3 file. Use it in this order:
//
//	AddKV... and AddTensor... (any interleaving), WriteHeader,
//	WriteTensorData (or WriteTensorFrom) for every tensor in declaration order,
//	Close.
//
// Only the header and one write buffer are held in memory; tensor bytes go
// straight to the underlying writer. The layout matches ggml's gguf_write:
// the data section starts at the first alignment boundary after the tensor
// infos, and every tensor (the last included) is zero-padded to the alignment.
// The Writer assumes w is positioned at the start of the file. After the first
// error every later call returns that error.
type Writer struct {
	bw        *bufio.Writer
	written   int64 // bytes passed to bw
	kvs       []KV
	keys      map[string]bool
	tensors   []TensorInfo
	names     map[string]bool
	alignment uint64
	header    bool // WriteHeader done
	next      int  // index of the next tensor to write
	err       error
	closed    bool
}

// NewWriter returns a Writer writing to w. The alignment is 32 unless a
// general.alignment KV is added.
func NewWriter(w io.Writer) *Writer {
	return &Writer{
		bw:        bufio.NewWriterSize(w, 1<<20),
		keys:      map[string]bool{},
		names:     map[string]bool{},
		alignment: DefaultAlignment,
	}
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = err
	}
	return err
}

// AddKV appends a metadata pair; keys are written in insertion order. Go
// types map to GGUF types one to one: uint8, int8, uint16, int16, uint32,
// int32, float32, bool, string, uint64, int64, float64; a slice of one of
// those ([]string, []int32, ...) is an array; an Array value is written as
// given (use it for nested arrays). int and uint are rejected (no fixed
// width). Adding general.alignment (a uint32 power of two) sets the data
// alignment. Errors: duplicate or empty key, unsupported type, called after
// WriteHeader.
func (w *Writer) AddKV(key string, value any) error {
	if w.err != nil {
		return w.err
	}
	if w.header {
		return fmt.Errorf("gguf: AddKV(%q) after WriteHeader", key)
	}
	if key == "" || len(key) > math.MaxUint16 {
		return fmt.Errorf("gguf: AddKV: key length %d, want 1..65535 bytes", len(key))
	}
	if w.keys[key] {
		return fmt.Errorf("gguf: AddKV: duplicate key %q", key)
	}
	t, err := valueTypeOf(value, 0)
	if err != nil {
		return fmt.Errorf("gguf: AddKV(%q): %w", key, err)
	}
	if t == ArrayType {
		if a, ok := value.(Array); ok {
			value = a
		} else {
			value, _ = sliceArray(value)
		}
	}
	kv := KV{Key: key, Type: t, Value: value}
	if key == KeyAlignment {
		if t != Uint32 {
			return fmt.Errorf("gguf: AddKV: %s must be a uint32 (ggml reads it with gguf_get_val_u32), not %T", KeyAlignment, value)
		}
		a, err := alignmentValue(kv)
		if err != nil {
			return fmt.Errorf("gguf: AddKV: %w", err)
		}
		w.alignment = a
	}
	w.keys[key] = true
	w.kvs = append(w.kvs, kv)
	return nil
}

// AddTensor declares a tensor of type typ with dims in ggml order (dims[0] =
// ne0 = elements per row, 1 to 4 dims). Tensors are laid out in declaration
// order, each at the next aligned offset. Errors: empty, duplicate or too
// long name (ggml's limit is 63 bytes), unknown type, bad shape (see
// TensorInfo), called after WriteHeader.
func (w *Writer) AddTensor(name string, typ dtype.Type, dims []uint64) error {
	if w.err != nil {
		return w.err
	}
	if w.header {
		return fmt.Errorf("gguf: AddTensor(%q) after WriteHeader", name)
	}
	if name == "" || len(name) > maxTensorName {
		return fmt.Errorf("gguf: AddTensor: tensor name %q is %d bytes, want 1..%d (GGML_MAX_NAME)", name, len(name), maxTensorName)
	}
	if w.names[name] {
		return fmt.Errorf("gguf: AddTensor: duplicate tensor name %q", name)
	}
	if len(dims) == 0 {
		return fmt.Errorf("gguf: AddTensor(%q): no dimensions", name)
	}
	size, err := tensorSize(typ, dims)
	if err != nil {
		return fmt.Errorf("gguf: AddTensor(%q): %w", name, err)
	}
	w.names[name] = true
	w.tensors = append(w.tensors, TensorInfo{Name: name, Type: typ, Dims: append([]uint64(nil), dims...), Size: size})
	return nil
}

// Tensors returns the declared tensors with their offsets as they will be
// (or were) written. Offsets are final once WriteHeader has run.
func (w *Writer) Tensors() []TensorInfo {
	w.layout()
	return append([]TensorInfo(nil), w.tensors...)
}

// layout assigns aligned offsets in declaration order; false on overflow.
func (w *Writer) layout() bool {
	var off int64
	for i := range w.tensors {
		w.tensors[i].Offset = uint64(off)
		if off > math.MaxInt64-w.tensors[i].Size {
			return false
		}
		end, ok := alignUp(off+w.tensors[i].Size, w.alignment)
		if !ok {
			return false
		}
		off = end
	}
	return true
}

// WriteHeader writes magic, version 3, counts, all KVs, all tensor infos and
// the padding up to the data section. Errors: called twice, I/O errors,
// data section larger than 2^63 bytes.
func (w *Writer) WriteHeader() error {
	if w.err != nil {
		return w.err
	}
	if w.header {
		return errors.New("gguf: WriteHeader called twice")
	}
	if !w.layout() {
		return w.fail(errors.New("gguf: WriteHeader: tensor data exceeds 2^63 bytes"))
	}
	w.header = true
	e := &encoder{w: w}
	e.raw([]byte(Magic))
	e.u32(3)
	e.u64(uint64(len(w.tensors)))
	e.u64(uint64(len(w.kvs)))
	for _, kv := range w.kvs {
		e.str(kv.Key)
		e.u32(uint32(kv.Type))
		e.value(kv.Value)
	}
	for _, t := range w.tensors {
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	e.pad(w.alignment)
	return e.err
}

// WriteTensorData writes the bytes of the next tensor in declaration order,
// then zero padding to the alignment. Errors: name is not the next declared
// tensor, len(data) != its size, header not written, I/O errors.
func (w *Writer) WriteTensorData(name string, data []byte) error {
	t, err := w.nextTensor(name)
	if err != nil {
		return err
	}
	if int64(len(data)) != t.Size {
		return fmt.Errorf("gguf: WriteTensorData(%q): %d bytes, want %d (%s %v)", name, len(data), t.Size, t.Type, t.Dims)
	}
	e := &encoder{w: w}
	e.raw(data)
	return w.finishTensor(e)
}

// WriteTensorFrom is WriteTensorData reading exactly the tensor's size in
// bytes from r, for tensors too large to hold in memory. Errors as
// WriteTensorData, plus r ending early.
func (w *Writer) WriteTensorFrom(name string, r io.Reader) error {
	t, err := w.nextTensor(name)
	if err != nil {
		return err
	}
	n, err := io.CopyN(w.bw, r, t.Size)
	w.written += n
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("gguf: WriteTensorFrom(%q): reader ended after %d of %d bytes", name, n, t.Size)
		}
		return w.fail(err)
	}
	return w.finishTensor(&encoder{w: w})
}

func (w *Writer) nextTensor(name string) (*TensorInfo, error) {
	if w.err != nil {
		return nil, w.err
	}
	if !w.header {
		return nil, fmt.Errorf("gguf: tensor data for %q before WriteHeader", name)
	}
	if w.next >= len(w.tensors) {
		return nil, fmt.Errorf("gguf: tensor data for %q: all %d declared tensors already written", name, len(w.tensors))
	}
	t := &w.tensors[w.next]
	if t.Name != name {
		return nil, fmt.Errorf("gguf: tensor data for %q, want %q (tensor %d in declaration order)", name, t.Name, w.next)
	}
	return t, nil
}

func (w *Writer) finishTensor(e *encoder) error {
	e.pad(w.alignment)
	if e.err != nil {
		return e.err
	}
	w.next++
	return nil
}

// Close writes the header if it was not written yet (a metadata-only file),
// checks that every declared tensor was written and flushes. It does not
// close the underlying writer. Errors: missing tensor data, I/O errors.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	if !w.header {
		if err := w.WriteHeader(); err != nil {
			return err
		}
	}
	if w.next < len(w.tensors) {
		return w.fail(fmt.Errorf("gguf: Close: tensor %q (%d of %d) and later were declared but never written",
			w.tensors[w.next].Name, w.next+1, len(w.tensors)))
	}
	if err := w.bw.Flush(); err != nil {
		return w.fail(err)
	}
	return nil
}
