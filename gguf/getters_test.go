package gguf

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func gettersFile(t *testing.T) *File {
	t.Helper()
	var buf bytes.Buffer
	w := NewWriter(&buf)
	for _, kv := range []struct {
		k string
		v any
	}{
		{"general.architecture", "deepseek2"},
		{"u8", uint8(200)},
		{"i32.pos", int32(7)},
		{"i32.neg", int32(-7)},
		{"u64.big", uint64(math.MaxUint64)},
		{"f32", float32(2.5)},
		{"f64", float64(0.1)},
		{"b", false},
		{"strs", []string{"a", "b"}},
		{"u32s", []uint32{1, math.MaxInt32}},
		{"u32s.big", []uint32{1, math.MaxInt32 + 1}},
		{"i8s", []int8{-128, 127}},
		{"i64s", []int64{math.MinInt32, 5}},
		{"i64s.big", []int64{math.MinInt32 - 1}},
		{"u16s", []uint16{65535}},
		{"f64s", []float64{0.5, 1e-3}},
		{"f32s", []float32{0.25}},
	} {
		if err := w.AddKV(kv.k, kv.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parseBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestGetters(t *testing.T) {
	f := gettersFile(t)
	eq := func(got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("got %v (%v), want %v", got, err, want)
		}
	}
	if f.Architecture() != "deepseek2" {
		t.Errorf("Architecture %q", f.Architecture())
	}
	s, err := f.String("general.architecture")
	eq(s, "deepseek2", err)
	u, err := f.Uint("u8")
	eq(u, uint64(200), err)
	u, err = f.Uint("i32.pos")
	eq(u, uint64(7), err)
	u, err = f.Uint("u64.big")
	eq(u, uint64(math.MaxUint64), err)
	i, err := f.Int("i32.neg")
	eq(i, int64(-7), err)
	i, err = f.Int("u8")
	eq(i, int64(200), err)
	x, err := f.Float("f32")
	eq(x, 2.5, err)
	x, err = f.Float("f64")
	eq(x, 0.1, err)
	x, err = f.Float("i32.neg")
	eq(x, -7.0, err)
	b, err := f.Bool("b")
	eq(b, false, err)
	ss, err := f.Strings("strs")
	eq(ss, []string{"a", "b"}, err)
	ss[0] = "changed" // a copy: the file's metadata is unchanged
	ss, err = f.Strings("strs")
	eq(ss, []string{"a", "b"}, err)
	is, err := f.Int32s("u32s")
	eq(is, []int32{1, math.MaxInt32}, err)
	is, err = f.Int32s("i8s")
	eq(is, []int32{-128, 127}, err)
	is, err = f.Int32s("i64s")
	eq(is, []int32{math.MinInt32, 5}, err)
	is, err = f.Int32s("u16s")
	eq(is, []int32{65535}, err)
	fs, err := f.Float32s("f64s")
	eq(fs, []float32{0.5, 1e-3}, err)
	fs, err = f.Float32s("f32s")
	eq(fs, []float32{0.25}, err)
	if kv, ok := f.Lookup("u8"); !ok || kv.Type != Uint8 || kv.Value != uint8(200) {
		t.Errorf("Lookup: %+v %v", kv, ok)
	}
}

func TestGetterErrors(t *testing.T) {
	f := gettersFile(t)
	_, err := f.Uint("nope")
	if !errors.Is(err, ErrKeyNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing key: %v", err)
	}
	if _, ok := f.Lookup("nope"); ok {
		t.Error("Lookup found a missing key")
	}
	cases := []struct {
		err  error
		want string
	}{
		{second(f.Uint("general.architecture")), `gguf: key "general.architecture" has type string, want an integer`},
		{second(f.Uint("i32.neg")), `gguf: key "i32.neg" (int32): value -7 is negative, want a non-negative integer`},
		{second(f.Int("u64.big")), `value 18446744073709551615 overflows int64`},
		{second(f.String("u8")), `gguf: key "u8" has type uint8, want string`},
		{second(f.Float("strs")), `gguf: key "strs" has type array[string], want a number`},
		{second(f.Bool("u8")), `has type uint8, want bool`},
		{second(f.Strings("u32s")), `gguf: key "u32s" has type array[uint32], want array[string]`},
		{second(f.Int32s("u32s.big")), `element 1 is 2147483648`},
		{second(f.Int32s("i64s.big")), `element 0 is -2147483649`},
		{second(f.Int32s("f32s")), `want an integer array`},
		{second(f.Float32s("u32s")), `want array[float32] or array[float64]`},
	}
	for _, c := range cases {
		if !errors.Is(c.err, ErrWrongType) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want ErrWrongType mentioning %q", c.err, c.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func TestTensorInfoCounts(t *testing.T) {
	ti := TensorInfo{Dims: []uint64{256, 16, 3}}
	if ti.NumElements() != 256*16*3 || ti.Rows() != 48 {
		t.Errorf("3-D: %d elements, %d rows", ti.NumElements(), ti.Rows())
	}
	ti.Dims = []uint64{7}
	if ti.NumElements() != 7 || ti.Rows() != 1 {
		t.Errorf("1-D: %d elements, %d rows", ti.NumElements(), ti.Rows())
	}
}

func TestTensorDataChecks(t *testing.T) {
	var buf bytes.Buffer
	writeAllTypes(t, &buf)
	f, err := parseBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	bad := f.Tensors[0]
	bad.Size = 1 << 40
	if _, err := f.TensorData(&bad); err == nil {
		t.Error("oversized TensorInfo accepted")
	}
	bad = f.Tensors[0]
	bad.Split = 3
	if _, err := f.TensorData(&bad); err == nil {
		t.Error("bad split accepted")
	}
	if _, err := f.TensorData(nil); err == nil {
		t.Error("nil accepted")
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TensorData(&f.Tensors[0]); err == nil {
		t.Error("TensorData after Close accepted")
	}
	if err := f.ReadTensor(&f.Tensors[0], make([]byte, f.Tensors[0].Size)); err == nil {
		t.Error("ReadTensor after Close accepted")
	}
}
