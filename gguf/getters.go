package gguf

import (
	"fmt"
	"math"
)

// Lookup returns the metadata pair with the given key and whether it exists.
func (f *File) Lookup(key string) (KV, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return KV{}, false
	}
	return f.KVs[i], true
}

// Architecture returns general.architecture ("deepseek2", "llama", ...), or
// "" if it is absent or not a string.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}

func (f *File) get(key string) (KV, error) {
	kv, ok := f.Lookup(key)
	if !ok {
		return KV{}, fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	return kv, nil
}

// String returns a string value. Errors: ErrKeyNotFound (wrapped), *TypeError.
func (f *File) String(key string) (string, error) {
	kv, err := f.get(key)
	if err != nil {
		return "", err
	}
	s, ok := kv.Value.(string)
	if !ok {
		return "", &TypeError{Key: key, Want: "string", Got: kv.TypeName()}
	}
	return s, nil
}

// Uint returns an integer value of any GGUF integer type as uint64.
// Errors: ErrKeyNotFound (wrapped); *TypeError for a non-integer or a
// negative value.
func (f *File) Uint(key string) (uint64, error) {
	kv, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if u, ok := asUint(kv.Value); ok {
		return u, nil
	}
	if i, ok := asInt(kv.Value); ok {
		return 0, &TypeError{Key: key, Want: "a non-negative integer", Got: kv.TypeName(), Detail: fmt.Sprintf("value %d is negative", i)}
	}
	return 0, &TypeError{Key: key, Want: "an integer", Got: kv.TypeName()}
}

// Int returns an integer value of any GGUF integer type as int64.
// Errors: ErrKeyNotFound (wrapped); *TypeError for a non-integer or a uint64
// above MaxInt64.
func (f *File) Int(key string) (int64, error) {
	kv, err := f.get(key)
	if err != nil {
		return 0, err
	}
	if i, ok := asInt(kv.Value); ok {
		return i, nil
	}
	if u, ok := kv.Value.(uint64); ok {
		return 0, &TypeError{Key: key, Want: "an integer within int64", Got: kv.TypeName(), Detail: fmt.Sprintf("value %d overflows int64", u)}
	}
	return 0, &TypeError{Key: key, Want: "an integer", Got: kv.TypeName()}
}

// Float returns a float32 or float64 value as float64; integer values are
// converted too. Errors: ErrKeyNotFound (wrapped), *TypeError.
func (f *File) Float(key string) (float64, error) {
	kv, err := f.get(key)
	if err != nil {
		return 0, err
	}
	switch v := kv.Value.(type) {
	case float32:
		return float64(v), nil
	case float64:
		return v, nil
	}
	if i, ok := asInt(kv.Value); ok {
		return float64(i), nil
	}
	if u, ok := asUint(kv.Value); ok {
		return float64(u), nil
	}
	return 0, &TypeError{Key: key, Want: "a number", Got: kv.TypeName()}
}

// Bool returns a bool value. Errors: ErrKeyNotFound (wrapped), *TypeError.
func (f *File) Bool(key string) (bool, error) {
	kv, err := f.get(key)
	if err != nil {
		return false, err
	}
	b, ok := kv.Value.(bool)
	if !ok {
		return false, &TypeError{Key: key, Want: "bool", Got: kv.TypeName()}
	}
	return b, nil
}

// Strings returns a copy of an array[string] value (e.g.
// tokenizer.ggml.tokens, [n_vocab]). Errors: ErrKeyNotFound (wrapped),
// *TypeError.
func (f *File) Strings(key string) ([]string, error) {
	kv, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if a, ok := kv.Value.(Array); ok {
		if v, ok := a.Values.([]string); ok {
			return append([]string(nil), v...), nil
		}
	}
	return nil, &TypeError{Key: key, Want: "array[string]", Got: kv.TypeName()}
}

// Int32s returns an array of any integer type as a new []int32 (e.g.
// tokenizer.ggml.token_type, [n_vocab]). Errors: ErrKeyNotFound (wrapped);
// *TypeError for a non-integer array or an element outside the int32 range.
func (f *File) Int32s(key string) ([]int32, error) {
	kv, err := f.get(key)
	if err != nil {
		return nil, err
	}
	a, ok := kv.Value.(Array)
	if !ok || !a.Elem.isInteger() {
		return nil, &TypeError{Key: key, Want: "an integer array", Got: kv.TypeName()}
	}
	out := make([]int32, 0, a.Len())
	bad := func(i int, v any) error {
		return &TypeError{Key: key, Want: "integers within int32", Got: kv.TypeName(), Detail: fmt.Sprintf("element %d is %v", i, v)}
	}
	switch v := a.Values.(type) {
	case []int32:
		out = append(out, v...)
	case []uint32:
		for i, x := range v {
			if x > math.MaxInt32 {
				return nil, bad(i, x)
			}
			out = append(out, int32(x))
		}
	case []int64:
		for i, x := range v {
			if x < math.MinInt32 || x > math.MaxInt32 {
				return nil, bad(i, x)
			}
			out = append(out, int32(x))
		}
	case []uint64:
		for i, x := range v {
			if x > math.MaxInt32 {
				return nil, bad(i, x)
			}
			out = append(out, int32(x))
		}
	default: // 8- and 16-bit types always fit
		n := a.Len()
		for i := 0; i < n; i++ {
			x, _ := asInt(elemAt(a, i))
			out = append(out, int32(x))
		}
	}
	return out, nil
}

// Float32s returns a float32 or float64 array as a new []float32 (float64
// elements are rounded). Errors: ErrKeyNotFound (wrapped), *TypeError.
func (f *File) Float32s(key string) ([]float32, error) {
	kv, err := f.get(key)
	if err != nil {
		return nil, err
	}
	if a, ok := kv.Value.(Array); ok {
		switch v := a.Values.(type) {
		case []float32:
			return append([]float32(nil), v...), nil
		case []float64:
			out := make([]float32, len(v))
			for i, x := range v {
				out[i] = float32(x)
			}
			return out, nil
		}
	}
	return nil, &TypeError{Key: key, Want: "array[float32] or array[float64]", Got: kv.TypeName()}
}

// elemAt returns element i of a small-integer array as a scalar.
func elemAt(a Array, i int) any {
	switch v := a.Values.(type) {
	case []uint8:
		return v[i]
	case []int8:
		return v[i]
	case []uint16:
		return v[i]
	case []int16:
		return v[i]
	}
	return nil
}

// asUint converts a non-negative value of any integer type.
func asUint(v any) (uint64, bool) {
	switch v := v.(type) {
	case uint8:
		return uint64(v), true
	case uint16:
		return uint64(v), true
	case uint32:
		return uint64(v), true
	case uint64:
		return v, true
	}
	if i, ok := asInt(v); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// asInt converts a value of any integer type that fits in int64.
func asInt(v any) (int64, bool) {
	switch v := v.(type) {
	case int8:
		return int64(v), true
	case int16:
		return int64(v), true
	case int32:
		return int64(v), true
	case int64:
		return v, true
	case uint8:
		return int64(v), true
	case uint16:
		return int64(v), true
	case uint32:
		return int64(v), true
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}
