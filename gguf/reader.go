package gguf

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/mmap"
)

// Magic is the 4-byte signature at the start of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when general.alignment is absent
// (GGUF_DEFAULT_ALIGNMENT in ggml).
const DefaultAlignment = 32

// KeyAlignment is the metadata key that overrides the data alignment.
const KeyAlignment = "general.alignment"

// Options tunes OpenWith.
type Options struct {
	// NoMmap reads tensor bytes with ReadAt into a fresh buffer on every
	// TensorData call instead of returning views into a memory mapping. Use it
	// where mmap is unavailable or when streaming a file once (quantize,
	// convert) without keeping its pages mapped.
	NoMmap bool
}

// File is an opened GGUF model: its metadata and tensor table, and access to
// the tensor bytes. For a split model (see Open) KVs, Version and Alignment
// come from part 1 and Tensors is the union over all parts.
//
// A File is safe for concurrent reads (getters, Tensor, TensorData,
// ReadTensor, ReadTensorAt) but Close must not race with them.
type File struct {
	Path      string       // path of the (first) file; "" for Parse
	Version   uint32       // GGUF version, 2 or 3
	Alignment uint64       // data alignment in bytes, a power of two
	KVs       []KV         // metadata in file order
	Tensors   []TensorInfo // tensor infos in file order (part by part)

	parts       []*part
	kvIndex     map[string]int
	tensorIndex map[string]int
	closed      bool
}

// part is one physical file of a (possibly split) model.
type part struct {
	path       string
	size       int64       // file size in bytes
	dataOffset int64       // absolute offset of the tensor data section
	r          io.ReaderAt // source for ReadAt when data is nil
	data       []byte      // the whole file when memory-mapped
	closer     io.Closer   // nil for Parse: the caller owns r

	fh *os.File // the open file of a mapped part, for ReadTensor; closed by Close
}

// header is what parseHeader extracts from one file.
type header struct {
	version    uint32
	alignment  uint64
	kvs        []KV
	tensors    []TensorInfo
	dataOffset int64
}

// Open opens the GGUF file at path with default Options: the file is mapped
// read-only and TensorData returns views into the mapping. A split model is
// opened as a whole (see OpenWith). Format problems are *FormatError.
func Open(path string) (*File, error) { return OpenWith(path, Options{}) }

// OpenWith opens the GGUF file at path.
//
// If the file carries split.count > 1 it is one part of a split model (as
// written by llama.cpp's gguf-split): all parts, named
// prefix-%05d-of-%05d.gguf, are opened and presented as one File. Passing any
// part works: for a part other than the first, part 1 is located by its name.
// A missing part, a part whose split.no/split.count disagree with its name, or
// a tensor total different from split.tensors.count is an error.
func OpenWith(path string, opt Options) (*File, error) {
	return openModel(path, opt)
}

// Parse reads a GGUF file of size bytes from r, for tests and fuzzing over a
// bytes.Reader. TensorData reads through r (the caller keeps r open and valid
// until it is done; Close does not close it). Split keys are not followed:
// the result holds only the tensors of this one part.
func Parse(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: negative size %d", size)
	}
	p := &part{size: size, r: r}
	hdr, err := parseHeader(newDecoder(r, size, ""))
	if err != nil {
		return nil, err
	}
	p.dataOffset = hdr.dataOffset
	f := &File{Version: hdr.version, Alignment: hdr.alignment, KVs: hdr.kvs, parts: []*part{p}}
	if err := f.addTensors(hdr.tensors, 0); err != nil {
		return nil, err
	}
	f.indexKVs()
	return f, nil
}

// openPart opens and parses one physical file. Errors are a *FormatError
// (which names the path) or an unprefixed OS error; see partError.
func openPart(path string, opt Options) (*part, *header, error) {
	p := &part{path: path}
	// Only a regular file has a size and can be mapped: opening a named
	// pipe would block, and a device reads as empty or endless.
	if st, err := os.Stat(path); err != nil {
		return nil, nil, err
	} else if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file (%s)", path, fileKind(st.Mode()))
	}
	if opt.NoMmap {
		fh, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		st, err := fh.Stat()
		if err != nil {
			fh.Close()
			return nil, nil, err
		}
		p.size, p.r, p.closer = st.Size(), fh, fh
	} else {
		// The descriptor stays open next to the mapping: ReadTensor reads
		// the very file that was parsed, even if the path is replaced.
		fh, err := os.Open(path)
		if err != nil {
			return nil, nil, err
		}
		m, err := mmap.OpenFile(fh)
		if err != nil {
			fh.Close()
			return nil, nil, err
		}
		p.size, p.r, p.data, p.fh, p.closer = int64(m.Len()), m, m.Bytes(), fh, mappedFile{m, fh}
	}
	hdr, err := parseHeader(newDecoder(p.r, p.size, path))
	if err != nil {
		p.closer.Close()
		return nil, nil, err
	}
	p.dataOffset = hdr.dataOffset
	return p, hdr, nil
}

// mappedFile closes a part's mapping and the descriptor kept next to it
// (every error path of opening a split model closes a part through
// part.closer alone).
type mappedFile struct {
	m  *mmap.File
	fh *os.File
}

func (c mappedFile) Close() error {
	return errors.Join(c.m.Close(), c.fh.Close())
}

// partError prefixes an openPart error with "gguf: " and context, leaving a
// *FormatError (already complete) unchanged.
func partError(err error, context string) error {
	var fe *FormatError
	if errors.As(err, &fe) {
		return err
	}
	if context != "" {
		return fmt.Errorf("gguf: %s: %w", context, err)
	}
	return fmt.Errorf("gguf: %w", err)
}

// parseHeader reads magic, version, counts, metadata and tensor infos, and
// validates the tensor data ranges against the file size.
func parseHeader(d *decoder) (*header, error) {
	b, err := d.next(4)
	if err != nil {
		return nil, withContext(err, "magic")
	}
	if string(b) != Magic {
		return nil, d.errAt(0, "bad magic %q, want %q: not a GGUF file", b, Magic)
	}
	version, err := d.u32()
	if err != nil {
		return nil, withContext(err, "version")
	}
	switch {
	case version == 2 || version == 3:
	case version == 1:
		return nil, d.errAt(4, "GGUF version 1 (32-bit counts) is not supported; re-convert the model with a current llama.cpp")
	case bits.ReverseBytes32(version) >= 1 && bits.ReverseBytes32(version) <= 3:
		return nil, d.errAt(4, "big-endian GGUF (version field %#08x) is not supported", version)
	default:
		return nil, d.errAt(4, "unsupported GGUF version %d, want 2 or 3", version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, withContext(err, "tensor count")
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, withContext(err, "metadata kv count")
	}
	// A kv needs at least 13 bytes (key length, type, 1-byte value) and a
	// tensor info 24 (name length, n_dims, type, offset).
	const minKV, minTensor = 13, 24
	if nKV > uint64(d.left()/minKV) {
		return nil, d.errAt(16, "metadata kv count %d needs at least %d bytes each, only %d bytes left (file size %d)", nKV, minKV, d.left(), d.size)
	}
	if nTensors > uint64((d.left()-int64(nKV)*minKV)/minTensor) {
		return nil, d.errAt(8, "tensor count %d needs at least %d bytes each after %d kvs, only %d bytes left (file size %d)", nTensors, minTensor, nKV, d.left(), d.size)
	}
	if nKV > math.MaxInt || nTensors > math.MaxInt {
		return nil, d.errAt(8, "counts %d tensors / %d kvs do not fit in memory", nTensors, nKV)
	}
	h := &header{version: version, alignment: DefaultAlignment}
	if h.kvs, h.alignment, err = readKVs(d, int(nKV)); err != nil {
		return nil, err
	}
	fieldOffs, err := readTensorInfos(d, h, int(nTensors))
	if err != nil {
		return nil, err
	}
	dataOffset, ok := alignUp(d.off, h.alignment)
	if !ok {
		return nil, d.errAt(d.off, "data section offset overflows aligning to %d", h.alignment)
	}
	h.dataOffset = dataOffset
	for i := range h.tensors {
		if err := checkDataRange(d, &h.tensors[i], fieldOffs[i], dataOffset, h.alignment); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// readKVs reads n metadata pairs, rejecting duplicate keys, and returns the
// data alignment (general.alignment, validated, or the default).
func readKVs(d *decoder, n int) ([]KV, uint64, error) {
	kvs := make([]KV, 0, initialCap(n))
	seen := make(map[string]int, initialCap(n))
	alignment := uint64(DefaultAlignment)
	for i := 0; i < n; i++ {
		kvOff := d.off
		key, err := d.str()
		if err != nil {
			return nil, 0, withContext(err, "kv %d: key", i)
		}
		if j, dup := seen[key]; dup {
			return nil, 0, d.errAt(kvOff, "kv %d: duplicate key %q (first at kv %d)", i, key, j)
		}
		seen[key] = i
		t, err := d.valueType()
		if err != nil {
			return nil, 0, withContext(err, "kv %d %q", i, key)
		}
		valOff := d.off
		v, err := d.value(t, 0)
		if err != nil {
			return nil, 0, withContext(err, "kv %d %q", i, key)
		}
		kv := KV{Key: key, Type: t, Value: v}
		if key == KeyAlignment {
			a, err := alignmentValue(kv)
			if err != nil {
				return nil, 0, d.errAt(valOff, "kv %d: %v", i, err)
			}
			alignment = a
		}
		kvs = append(kvs, kv)
	}
	return kvs, alignment, nil
}

// alignmentValue validates a general.alignment pair: an unsigned (or
// non-negative) integer, a non-zero power of two. The spec and ggml use uint32.
func alignmentValue(kv KV) (uint64, error) {
	a, ok := asUint(kv.Value)
	if !ok {
		return 0, fmt.Errorf("%s is %s, want a non-negative integer (uint32)", KeyAlignment, kv.TypeName())
	}
	if a == 0 || a&(a-1) != 0 || a > 1<<30 {
		return 0, fmt.Errorf("%s is %d, want a power of two between 1 and 2^30", KeyAlignment, a)
	}
	return a, nil
}

// readTensorInfos reads n tensor infos into h.tensors, computing sizes, and
// returns the file offset of each info's offset field (for later errors).
func readTensorInfos(d *decoder, h *header, n int) ([]int64, error) {
	h.tensors = make([]TensorInfo, 0, initialCap(n))
	fieldOffs := make([]int64, 0, initialCap(n))
	seen := make(map[string]int, initialCap(n))
	for i := 0; i < n; i++ {
		infoOff := d.off
		name, err := d.str()
		if err != nil {
			return nil, withContext(err, "tensor info %d: name", i)
		}
		if j, dup := seen[name]; dup {
			return nil, d.errAt(infoOff, "tensor info %d: duplicate tensor name %q (first at tensor %d)", i, name, j)
		}
		seen[name] = i
		t := TensorInfo{Name: name}
		dimsOff := d.off
		nDims, err := d.u32()
		if err != nil {
			return nil, withContext(err, "tensor %q: n_dims", name)
		}
		if nDims > maxDims {
			return nil, d.errAt(dimsOff, "tensor %q: %d dimensions, at most %d allowed (GGML_MAX_DIMS)", name, nDims, maxDims)
		}
		t.Dims = make([]uint64, nDims)
		for j := range t.Dims {
			if t.Dims[j], err = d.u64(); err != nil {
				return nil, withContext(err, "tensor %q: dimension %d", name, j)
			}
		}
		typeOff := d.off
		typ, err := d.u32()
		if err != nil {
			return nil, withContext(err, "tensor %q: type", name)
		}
		t.Type = dtype.Type(typ)
		if !t.Type.Known() {
			return nil, d.errAt(typeOff, "tensor %q: unknown tensor type id %d", name, typ)
		}
		if t.Size, err = tensorSize(t.Type, t.Dims); err != nil {
			return nil, d.errAt(dimsOff, "tensor %q: %v", name, err)
		}
		fieldOffs = append(fieldOffs, d.off)
		if t.Offset, err = d.u64(); err != nil {
			return nil, withContext(err, "tensor %q: data offset", name)
		}
		h.tensors = append(h.tensors, t)
	}
	return fieldOffs, nil
}

// checkDataRange verifies that a tensor's offset is aligned and its data lies
// inside the file.
func checkDataRange(d *decoder, t *TensorInfo, fieldOff, dataOffset int64, alignment uint64) error {
	if t.Offset%alignment != 0 {
		return d.errAt(fieldOff, "tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, alignment)
	}
	if t.Offset > uint64(math.MaxInt64-dataOffset) || int64(t.Offset)+dataOffset > math.MaxInt64-t.Size {
		return d.errAt(fieldOff, "tensor %q: data offset %d (+%d bytes) overflows past the data section at %d", t.Name, t.Offset, t.Size, dataOffset)
	}
	start := dataOffset + int64(t.Offset)
	end := start + t.Size
	if end > d.size {
		return d.errAt(fieldOff, "tensor %q: data [%d,%d) beyond end of file (size %d)", t.Name, start, end, d.size)
	}
	return nil
}

// addTensors appends a part's tensors, stamping their part index and rejecting
// names already present (possible across split parts).
func (f *File) addTensors(ts []TensorInfo, split int) error {
	if f.tensorIndex == nil {
		f.tensorIndex = make(map[string]int, len(ts))
	}
	for _, t := range ts {
		if j, dup := f.tensorIndex[t.Name]; dup {
			return fmt.Errorf("gguf: %s: tensor %q appears in split part %d and again in part %d",
				f.parts[split].path, t.Name, f.Tensors[j].Split+1, split+1)
		}
		t.Split = split
		f.tensorIndex[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	return nil
}

func (f *File) indexKVs() {
	f.kvIndex = make(map[string]int, len(f.KVs))
	for i, kv := range f.KVs {
		f.kvIndex[kv.Key] = i
	}
}

// Tensor returns the info of the named tensor, pointing into f.Tensors, and
// whether it exists.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tensorIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the t.Size bytes of tensor t. When the file is memory
// mapped this is a zero-copy, read-only view into the mapping (writing to it
// faults), valid until Close; otherwise (Options.NoMmap, Parse) the bytes are
// read with ReadAt into a new buffer on every call. The range is re-checked
// against the part's size, so a modified TensorInfo cannot read outside the
// file.
func (f *File) TensorData(t *TensorInfo) ([]byte, error) {
	p, start, err := f.tensorRange(t, "TensorData")
	if err != nil {
		return nil, err
	}
	end := start + t.Size
	if p.data != nil {
		return p.data[start:end:end], nil
	}
	if int64(int(t.Size)) != t.Size {
		return nil, fmt.Errorf("gguf: tensor %q: %d bytes do not fit in memory", t.Name, t.Size)
	}
	buf := make([]byte, t.Size)
	if err := newDecoder(p.r, p.size, p.path).readAt(buf, start); err != nil {
		return nil, withContext(err, "tensor %q", t.Name)
	}
	return buf, nil
}

// ReadTensor copies the t.Size bytes of tensor t into dst, which must be
// exactly t.Size bytes long. Unlike TensorData on a mapped file it reads with
// pread(2) from the file descriptor kept open since OpenWith (the file that
// was parsed, even if its path has since been replaced) rather than through
// the mapping, so the copy leaves no mapped pages behind: a caller
// that moves weights into other memory (engine's huge-page arena) does not
// pay for them twice in its resident set. Errors: a closed file, a tensor
// outside its part, a dst of the wrong length, or an I/O error or short read
// naming the file and offset.
func (f *File) ReadTensor(t *TensorInfo, dst []byte) error {
	if t != nil && int64(len(dst)) != t.Size {
		return fmt.Errorf("gguf: tensor %q: ReadTensor into %d bytes, want %d", t.Name, len(dst), t.Size)
	}
	return f.ReadTensorAt(t, dst, 0)
}

// ReadTensorAt is ReadTensor for the bytes [off, off+len(dst)) of tensor t,
// so that several goroutines can copy parts of one large tensor at once.
// Errors as ReadTensor, plus a range outside the tensor.
func (f *File) ReadTensorAt(t *TensorInfo, dst []byte, off int64) error {
	p, start, err := f.tensorRange(t, "ReadTensor")
	if err != nil {
		return err
	}
	if off < 0 || off > t.Size || int64(len(dst)) > t.Size-off {
		return fmt.Errorf("gguf: tensor %q: ReadTensorAt of %d bytes at offset %d outside its %d bytes", t.Name, len(dst), off, t.Size)
	}
	r := p.r
	if p.fh != nil {
		r = p.fh
	}
	if err := newDecoder(r, p.size, p.path).readAt(dst, start+off); err != nil {
		return withContext(err, "tensor %q", t.Name)
	}
	return nil
}

// tensorRange checks t against its part and returns the part and the
// absolute offset of its first byte.
func (f *File) tensorRange(t *TensorInfo, op string) (*part, int64, error) {
	if f.closed {
		return nil, 0, fmt.Errorf("gguf: %s on a closed file", op)
	}
	if t == nil {
		return nil, 0, fmt.Errorf("gguf: %s of a nil tensor", op)
	}
	if t.Split < 0 || t.Split >= len(f.parts) {
		return nil, 0, fmt.Errorf("gguf: tensor %q: split part %d out of range [0,%d)", t.Name, t.Split, len(f.parts))
	}
	p := f.parts[t.Split]
	if t.Size < 0 || t.Offset > uint64(p.size) || p.dataOffset+int64(t.Offset) > p.size-t.Size {
		return nil, 0, fmt.Errorf("gguf: tensor %q: data at offset %d (+%d bytes) outside the data section of %s", t.Name, t.Offset, t.Size, p.name())
	}
	return p, p.dataOffset + int64(t.Offset), nil
}

func (p *part) name() string {
	if p.path == "" {
		return "the file"
	}
	return p.path
}

// Close releases the mappings and file handles of every part. Views returned
// by TensorData become invalid. Close is idempotent; for Parse it only marks
// the File closed.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	var first error
	for _, p := range f.parts {
		p.data = nil
		p.fh = nil // closed by p.closer
		if p.closer != nil {
			if err := p.closer.Close(); err != nil && first == nil {
				first = fmt.Errorf("gguf: close %s: %w", p.path, err)
			}
		}
	}
	return first
}

// fileKind names the kind of a non-regular file for error messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}
