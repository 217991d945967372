package gguf

import (
	"encoding/binary"
	"math"
)

// encoder writes little-endian GGUF primitives to a Writer's buffer, keeping
// the first error (recorded on the Writer too) and the byte count.
type encoder struct {
	w   *Writer
	err error
	b   [8]byte
}

func (e *encoder) raw(p []byte) {
	if e.err != nil {
		return
	}
	n, err := e.w.bw.Write(p)
	e.w.written += int64(n)
	if err != nil {
		e.err = e.w.fail(err)
	}
}

func (e *encoder) u8(v uint8) { e.b[0] = v; e.raw(e.b[:1]) }

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.b[:], v)
	e.raw(e.b[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.b[:], v)
	e.raw(e.b[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.b[:], v)
	e.raw(e.b[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	if e.err == nil {
		n, err := e.w.bw.WriteString(s)
		e.w.written += int64(n)
		if err != nil {
			e.err = e.w.fail(err)
		}
	}
}

// pad writes zeros up to the next multiple of align.
func (e *encoder) pad(align uint64) {
	var zeros [4096]byte
	end, _ := alignUp(e.w.written, align)
	for n := end - e.w.written; n > 0 && e.err == nil; {
		k := min(n, int64(len(zeros)))
		e.raw(zeros[:k])
		n -= k
	}
}

// value writes v, which valueTypeOf has already checked.
func (e *encoder) value(v any) {
	switch x := v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		if x {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case Array:
		e.array(x)
	}
}

func (e *encoder) array(a Array) {
	e.u32(uint32(a.Elem))
	e.u64(uint64(a.Len()))
	switch v := a.Values.(type) {
	case []uint8:
		e.raw(v)
	case []int8:
		for _, x := range v {
			e.u8(uint8(x))
		}
	case []uint16:
		for _, x := range v {
			e.u16(x)
		}
	case []int16:
		for _, x := range v {
			e.u16(uint16(x))
		}
	case []uint32:
		for _, x := range v {
			e.u32(x)
		}
	case []int32:
		for _, x := range v {
			e.u32(uint32(x))
		}
	case []float32:
		for _, x := range v {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		for _, x := range v {
			e.value(x)
		}
	case []string:
		for _, x := range v {
			e.str(x)
		}
	case []uint64:
		for _, x := range v {
			e.u64(x)
		}
	case []int64:
		for _, x := range v {
			e.u64(uint64(x))
		}
	case []float64:
		for _, x := range v {
			e.u64(math.Float64bits(x))
		}
	case []Array:
		for _, x := range v {
			e.array(x)
		}
	}
}
