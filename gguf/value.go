package gguf

import (
	"fmt"
)

// ValueType is a GGUF metadata value type id (gguf_type in ggml's gguf.h,
// "gguf_metadata_value_type" in the spec).
type ValueType uint32

// The GGUF metadata value type ids. The spec's "array" type (id 9) is named
// ArrayType here because Array is the Go type holding an array value.
const (
	Uint8     ValueType = 0
	Int8      ValueType = 1
	Uint16    ValueType = 2
	Int16     ValueType = 3
	Uint32    ValueType = 4
	Int32     ValueType = 5
	Float32   ValueType = 6
	Bool      ValueType = 7  // one byte, 0 or 1
	String    ValueType = 8  // uint64 length + bytes
	ArrayType ValueType = 9  // element type uint32 + count uint64 + elements
	Uint64    ValueType = 10 // Uint64, Int64 and Float64 were added in GGUF v2
	Int64     ValueType = 11
	Float64   ValueType = 12
)

// maxArrayDepth bounds how deeply arrays may nest (arrays of arrays of ...).
// The spec allows nesting; ggml itself reads none. Bounding it keeps a hostile
// file from driving recursion depth.
const maxArrayDepth = 16

var valueTypeNames = [...]string{
	Uint8: "uint8", Int8: "int8", Uint16: "uint16", Int16: "int16",
	Uint32: "uint32", Int32: "int32", Float32: "float32", Bool: "bool",
	String: "string", ArrayType: "array", Uint64: "uint64", Int64: "int64", Float64: "float64",
}

// String returns the spec's name of the type ("uint32", "string", "array"),
// or "type(N)" for an id the spec does not define.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Valid reports whether t is one of the 13 ids defined by the spec.
func (t ValueType) Valid() bool { return t <= Float64 }

// size is the encoded size in bytes of a fixed-size scalar of type t, and 0
// for String and ArrayType.
func (t ValueType) size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16:
		return 2
	case Uint32, Int32, Float32:
		return 4
	case Uint64, Int64, Float64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes one encoded value of type t can occupy: its
// fixed size, 8 for a string (the length), 12 for an array (type + count).
func (t ValueType) minSize() int64 {
	switch t {
	case String:
		return 8
	case ArrayType:
		return 12
	}
	return int64(t.size())
}

func (t ValueType) isInteger() bool {
	switch t {
	case Uint8, Int8, Uint16, Int16, Uint32, Int32, Uint64, Int64:
		return true
	}
	return false
}

// Array is a GGUF array value. Values holds a typed slice matching Elem:
// []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool,
// []string, []uint64, []int64, []float64, or []Array for nested arrays.
type Array struct {
	Elem   ValueType
	Values any
}

// Len returns the number of elements, or -1 if Values does not hold one of the
// slice types listed on Array.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	case []Array:
		return len(v)
	}
	return -1
}

// TypeName describes the array type, e.g. "array[string]" or
// "array[array[int32]]" (the nested element type is taken from the first
// element; an empty nested array reads "array[array]").
func (a Array) TypeName() string {
	if a.Elem == ArrayType {
		if v, ok := a.Values.([]Array); ok && len(v) > 0 {
			return "array[" + v[0].TypeName() + "]"
		}
	}
	return "array[" + a.Elem.String() + "]"
}

// KV is one metadata key/value pair. Value is uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64 (matching Type),
// or an Array when Type is ArrayType.
type KV struct {
	Key   string
	Type  ValueType
	Value any
}

// TypeName describes the value type, with the element type for arrays
// ("uint32", "array[string]").
func (kv KV) TypeName() string {
	if a, ok := kv.Value.(Array); ok {
		return a.TypeName()
	}
	return kv.Type.String()
}

// valueTypeOf maps a Go value to its GGUF type, checking that an Array's
// Values matches its Elem (recursively). It is the writer's type mapping and
// the reader's consistency check.
func valueTypeOf(v any, depth int) (ValueType, error) {
	switch v := v.(type) {
	case uint8:
		return Uint8, nil
	case int8:
		return Int8, nil
	case uint16:
		return Uint16, nil
	case int16:
		return Int16, nil
	case uint32:
		return Uint32, nil
	case int32:
		return Int32, nil
	case float32:
		return Float32, nil
	case bool:
		return Bool, nil
	case string:
		return String, nil
	case uint64:
		return Uint64, nil
	case int64:
		return Int64, nil
	case float64:
		return Float64, nil
	case Array:
		return ArrayType, checkArray(v, depth)
	case int, uint, uintptr:
		return 0, fmt.Errorf("Go type %T has no fixed GGUF width; use a sized type such as uint32 or int64", v)
	case []int, []uint:
		return 0, fmt.Errorf("Go type %T has no fixed GGUF width; use a sized element type such as int32", v)
	}
	if a, ok := sliceArray(v); ok {
		return ArrayType, checkArray(a, depth)
	}
	return 0, fmt.Errorf("Go type %T has no GGUF value type", v)
}

// sliceArray wraps a plain Go slice ([]uint32, []string, ...) as an Array.
func sliceArray(v any) (Array, bool) {
	var t ValueType
	switch v.(type) {
	case []uint8:
		t = Uint8
	case []int8:
		t = Int8
	case []uint16:
		t = Uint16
	case []int16:
		t = Int16
	case []uint32:
		t = Uint32
	case []int32:
		t = Int32
	case []float32:
		t = Float32
	case []bool:
		t = Bool
	case []string:
		t = String
	case []uint64:
		t = Uint64
	case []int64:
		t = Int64
	case []float64:
		t = Float64
	case []Array:
		t = ArrayType
	default:
		return Array{}, false
	}
	return Array{Elem: t, Values: v}, true
}

// checkArray verifies that a.Values is the slice type for a.Elem and that
// nested arrays are consistent and at most maxArrayDepth deep.
func checkArray(a Array, depth int) error {
	if depth >= maxArrayDepth {
		return fmt.Errorf("arrays nested deeper than %d levels", maxArrayDepth)
	}
	inner, ok := sliceArray(a.Values)
	if !ok {
		return fmt.Errorf("array values of Go type %T are not a GGUF array slice", a.Values)
	}
	if inner.Elem != a.Elem {
		return fmt.Errorf("array declared as array[%s] holds %T", a.Elem, a.Values)
	}
	if nested, ok := a.Values.([]Array); ok {
		for i, n := range nested {
			if err := checkArray(n, depth+1); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return nil
}
