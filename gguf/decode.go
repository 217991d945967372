package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// decodeBufSize is the read-ahead window of the decoder. Metadata is read in
// windows of this size, so even a 150k-entry vocabulary costs few ReadAt calls.
const decodeBufSize = 64 << 10

// decoder is a forward cursor over an io.ReaderAt of known size. Every read
// checks the bytes left first, so no count from the file is trusted.
type decoder struct {
	r      io.ReaderAt
	size   int64  // total bytes in the file
	path   string // for errors
	off    int64  // offset of the next byte to consume
	buf    []byte // buffered bytes of the file starting at bufOff
	bufOff int64
}

func newDecoder(r io.ReaderAt, size int64, path string) *decoder {
	return &decoder{r: r, size: size, path: path}
}

func (d *decoder) errAt(off int64, format string, args ...any) *FormatError {
	return &FormatError{Path: d.path, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) left() int64 { return d.size - d.off }

// short reports that n bytes were needed at the current offset.
func (d *decoder) short(n int64) *FormatError {
	return d.errAt(d.off, "unexpected end of file: need %d bytes, %d left (file size %d)", n, d.left(), d.size)
}

// readAt fills p from offset off, turning a short read into a FormatError and
// other failures into I/O errors naming the offset.
func (d *decoder) readAt(p []byte, off int64) error {
	n, err := d.r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.errAt(off+int64(n), "unexpected end of data: read %d of %d bytes (file size %d)", n, len(p), d.size)
	}
	if d.path == "" {
		return fmt.Errorf("gguf: read %d bytes at byte %#x: %w", len(p), off, err)
	}
	return fmt.Errorf("gguf: %s: read %d bytes at byte %#x: %w", d.path, len(p), off, err)
}

// next consumes n bytes (n <= decodeBufSize) and returns them. The slice is
// valid until the next call.
func (d *decoder) next(n int) ([]byte, error) {
	if int64(n) > d.left() {
		return nil, d.short(int64(n))
	}
	start := d.off - d.bufOff
	if d.off < d.bufOff || start+int64(n) > int64(len(d.buf)) {
		want := int64(decodeBufSize)
		if want > d.left() {
			want = d.left()
		}
		if int64(cap(d.buf)) < want {
			d.buf = make([]byte, want) // want only shrinks later: one allocation
		}
		d.buf = d.buf[:want]
		if err := d.readAt(d.buf, d.off); err != nil {
			d.buf = d.buf[:0]
			return nil, err
		}
		d.bufOff, start = d.off, 0
	}
	d.off += int64(n)
	return d.buf[start : start+int64(n)], nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.next(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.next(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// strBytes reads a GGUF string (uint64 length, then the bytes), the length
// checked against the bytes left before anything is allocated. The result is
// valid until the next read.
func (d *decoder) strBytes() ([]byte, error) {
	lenOff := d.off
	n, err := d.u64()
	if err != nil {
		return nil, err
	}
	if n > uint64(d.left()) {
		return nil, d.errAt(lenOff, "string length %d exceeds the %d bytes left in the file (size %d)", n, d.left(), d.size)
	}
	if n <= decodeBufSize {
		return d.next(int(n))
	}
	if n > uint64(math.MaxInt) {
		return nil, d.errAt(lenOff, "string length %d does not fit in memory", n)
	}
	b := make([]byte, n)
	if err := d.readAt(b, d.off); err != nil {
		return nil, err
	}
	d.off += int64(n)
	return b, nil
}

// str reads a GGUF string.
func (d *decoder) str() (string, error) {
	b, err := d.strBytes()
	return string(b), err
}

// scalar reads one fixed-size or string value of type t.
func (d *decoder) scalar(t ValueType) (any, error) {
	if t == String {
		return d.str()
	}
	off := d.off
	b, err := d.next(t.size())
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	switch t {
	case Uint8:
		return b[0], nil
	case Int8:
		return int8(b[0]), nil
	case Uint16:
		return le.Uint16(b), nil
	case Int16:
		return int16(le.Uint16(b)), nil
	case Uint32:
		return le.Uint32(b), nil
	case Int32:
		return int32(le.Uint32(b)), nil
	case Float32:
		return math.Float32frombits(le.Uint32(b)), nil
	case Bool:
		if b[0] > 1 {
			return nil, d.errAt(off, "bool value %d, want 0 or 1", b[0])
		}
		return b[0] == 1, nil
	case Uint64:
		return le.Uint64(b), nil
	case Int64:
		return int64(le.Uint64(b)), nil
	case Float64:
		return math.Float64frombits(le.Uint64(b)), nil
	}
	return nil, d.errAt(off, "invalid value type %d", uint32(t))
}

// value reads a value of type t (already read), recursing into arrays.
func (d *decoder) value(t ValueType, depth int) (any, error) {
	if t == ArrayType {
		return d.array(depth)
	}
	return d.scalar(t)
}

// valueType reads a uint32 value type id and checks it is defined.
func (d *decoder) valueType() (ValueType, error) {
	off := d.off
	v, err := d.u32()
	if err != nil {
		return 0, err
	}
	t := ValueType(v)
	if !t.Valid() {
		return 0, d.errAt(off, "invalid value type id %d, want 0..12", v)
	}
	return t, nil
}

// array reads an array header (element type, count) and its elements. The
// count is bounded by the bytes left divided by the element's minimum size;
// slices grow as elements are actually read.
func (d *decoder) array(depth int) (Array, error) {
	start := d.off
	if depth >= maxArrayDepth {
		return Array{}, d.errAt(start, "arrays nested deeper than %d levels", maxArrayDepth)
	}
	elem, err := d.valueType()
	if err != nil {
		return Array{}, err
	}
	countOff := d.off
	n, err := d.u64()
	if err != nil {
		return Array{}, err
	}
	minSize := elem.minSize()
	if n > uint64(d.left()/minSize) {
		return Array{}, d.errAt(countOff, "array[%s] of %d elements needs at least %d bytes each, only %d bytes left (file size %d)",
			elem, n, minSize, d.left(), d.size)
	}
	count := int(n) // n <= left/minSize fits in int64 and, on 64-bit, in int
	if uint64(count) != n || count < 0 {
		return Array{}, d.errAt(countOff, "array of %d elements does not fit in memory", n)
	}
	var vals any
	switch elem {
	case Uint8:
		vals, err = readFixed(d, count, 1, func(b []byte) uint8 { return b[0] })
	case Int8:
		vals, err = readFixed(d, count, 1, func(b []byte) int8 { return int8(b[0]) })
	case Uint16:
		vals, err = readFixed(d, count, 2, binary.LittleEndian.Uint16)
	case Int16:
		vals, err = readFixed(d, count, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })
	case Uint32:
		vals, err = readFixed(d, count, 4, binary.LittleEndian.Uint32)
	case Int32:
		vals, err = readFixed(d, count, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case Float32:
		vals, err = readFixed(d, count, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	case Uint64:
		vals, err = readFixed(d, count, 8, binary.LittleEndian.Uint64)
	case Int64:
		vals, err = readFixed(d, count, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	case Float64:
		vals, err = readFixed(d, count, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
	case Bool:
		vals, err = d.bools(count)
	case String:
		vals, err = d.strings(count)
	case ArrayType:
		vals, err = d.arrays(count, depth)
	}
	if err != nil {
		return Array{}, err
	}
	return Array{Elem: elem, Values: vals}, nil
}

// initialCap bounds the up-front allocation of a slice whose final length
// comes from the file; append grows it as elements are actually decoded.
func initialCap(n int) int {
	const max = 1 << 16
	if n > max {
		return max
	}
	return n
}

// readFixed decodes count fixed-size elements in buffer-sized chunks.
func readFixed[T any](d *decoder, count, size int, conv func([]byte) T) ([]T, error) {
	out := make([]T, 0, initialCap(count))
	per := decodeBufSize / size
	for len(out) < count {
		k := count - len(out)
		if k > per {
			k = per
		}
		b, err := d.next(k * size)
		if err != nil {
			return nil, withContext(err, "array element %d", len(out))
		}
		for i := 0; i < k; i++ {
			out = append(out, conv(b[i*size:(i+1)*size]))
		}
	}
	return out, nil
}

func (d *decoder) bools(count int) ([]bool, error) {
	out := make([]bool, 0, initialCap(count))
	for len(out) < count {
		k := count - len(out)
		if k > decodeBufSize {
			k = decodeBufSize
		}
		off := d.off
		b, err := d.next(k)
		if err != nil {
			return nil, withContext(err, "array element %d", len(out))
		}
		for i, c := range b {
			if c > 1 {
				return nil, d.errAt(off+int64(i), "array element %d: bool value %d, want 0 or 1", len(out), c)
			}
			out = append(out, c == 1)
		}
	}
	return out, nil
}

// strings reads count strings into one shared backing buffer (a
// strings.Builder, so no per-string allocation: a 150k-token vocabulary costs
// a few allocations instead of 150k).
func (d *decoder) strings(count int) ([]string, error) {
	ends := make([]int, 0, initialCap(count))
	var sb strings.Builder
	for i := 0; i < count; i++ {
		b, err := d.strBytes()
		if err != nil {
			return nil, withContext(err, "array element %d", i)
		}
		sb.Write(b)
		ends = append(ends, sb.Len())
	}
	all := sb.String()
	out := make([]string, len(ends))
	start := 0
	for i, end := range ends {
		out[i] = all[start:end]
		start = end
	}
	return out, nil
}

func (d *decoder) arrays(count, depth int) ([]Array, error) {
	out := make([]Array, 0, initialCap(count))
	for i := 0; i < count; i++ {
		a, err := d.array(depth + 1)
		if err != nil {
			return nil, withContext(err, "array element %d", i)
		}
		out = append(out, a)
	}
	return out, nil
}
