package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// allTypesKVs has one key of every scalar type, one array of every element
// type and nested arrays, with values at the edges of each range.
func allTypesKVs() []KV {
	nested := Array{Elem: ArrayType, Values: []Array{
		{Elem: Int32, Values: []int32{1, -2}},
		{Elem: String, Values: []string{"x"}},
		{Elem: ArrayType, Values: []Array{{Elem: Float64, Values: []float64{math.Pi}}}},
		{Elem: Bool, Values: []bool{}},
	}}
	return []KV{
		{"general.architecture", String, "deepseek2"},
		{"u8", Uint8, uint8(255)},
		{"i8", Int8, int8(-128)},
		{"u16", Uint16, uint16(65535)},
		{"i16", Int16, int16(-32768)},
		{"u32", Uint32, uint32(math.MaxUint32)},
		{"i32", Int32, int32(math.MinInt32)},
		{"f32", Float32, float32(1e-6)},
		{"b", Bool, true},
		{"s", String, "ünïcode ｜ \x00 nul"},
		{"u64", Uint64, uint64(math.MaxUint64)},
		{"i64", Int64, int64(math.MinInt64)},
		{"f64", Float64, math.Inf(-1)},
		{"a.u8", ArrayType, Array{Uint8, []uint8{0, 255}}},
		{"a.i8", ArrayType, Array{Int8, []int8{-1, 127}}},
		{"a.u16", ArrayType, Array{Uint16, []uint16{1, 65535}}},
		{"a.i16", ArrayType, Array{Int16, []int16{-300, 300}}},
		{"a.u32", ArrayType, Array{Uint32, []uint32{7, 1 << 31}}},
		{"a.i32", ArrayType, Array{Int32, []int32{-7, 7}}},
		{"a.f32", ArrayType, Array{Float32, []float32{0.5, -2}}},
		{"a.b", ArrayType, Array{Bool, []bool{true, false, true}}},
		{"a.s", ArrayType, Array{String, []string{"", "a", "bc"}}},
		{"a.u64", ArrayType, Array{Uint64, []uint64{1 << 63}}},
		{"a.i64", ArrayType, Array{Int64, []int64{-1 << 40}}},
		{"a.f64", ArrayType, Array{Float64, []float64{1e300, 0}}},
		{"a.empty", ArrayType, Array{String, []string{}}},
		{"a.nested", ArrayType, nested},
	}
}

// allTypesTensors are written by writeAllTypes with data byte i*7+k.
var allTypesTensors = []struct {
	name string
	typ  dtype.Type
	dims []uint64
}{
	{"f32", dtype.F32, []uint64{3}},
	{"q8", dtype.Q8_0, []uint64{64, 3}},
	{"q4k", dtype.Q4_K, []uint64{256, 2, 2}},
	{"f16", dtype.F16, []uint64{5, 1, 1, 2}},
}

func tensorBytes(i int, n int64) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(i*7 + k)
	}
	return b
}

// writeAllTypes writes allTypesKVs (plain Go slices for arrays, to test the
// mapping) and allTypesTensors.
func writeAllTypes(t testing.TB, out io.Writer) {
	t.Helper()
	w := NewWriter(out)
	for _, kv := range allTypesKVs() {
		v := kv.Value
		if a, ok := v.(Array); ok && a.Elem != ArrayType {
			v = a.Values // AddKV maps []T to array[T]
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range allTypesTensors {
		if err := w.AddTensor(tt.name, tt.typ, tt.dims); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for i, ti := range w.Tensors() {
		if err := w.WriteTensorData(ti.Name, tensorBytes(i, ti.Size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterAllTypesRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	writeAllTypes(t, &buf)
	f, err := parseBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	want := allTypesKVs()
	if !reflect.DeepEqual(f.KVs, want) {
		for i := range want {
			if i < len(f.KVs) && !reflect.DeepEqual(f.KVs[i], want[i]) {
				t.Errorf("kv %d: %#v, want %#v", i, f.KVs[i], want[i])
			}
		}
		t.Fatal("kvs differ")
	}
	// Sizes from the ggml block tables: F32 3*4; Q8_0 2 blocks of 34 per row
	// x3; Q4_K 144 per 256 x4 rows; F16 5*2 x2 rows.
	sizes := []int64{12, 204, 576, 20}
	offsets := []uint64{0, 32, 256, 832}
	for i, tt := range allTypesTensors {
		ti, ok := f.Tensor(tt.name)
		if !ok || ti.Type != tt.typ || !reflect.DeepEqual(ti.Dims, tt.dims) || ti.Size != sizes[i] || ti.Offset != offsets[i] {
			t.Fatalf("tensor %s: %+v, want size %d offset %d", tt.name, ti, sizes[i], offsets[i])
		}
		data, err := f.TensorData(ti)
		if err != nil || !bytes.Equal(data, tensorBytes(i, ti.Size)) {
			t.Fatalf("tensor %s data differs (%v)", tt.name, err)
		}
	}
	if n := int64(buf.Len()) - f.parts[0].dataOffset; n != 864 {
		t.Errorf("data section %d bytes, want 864 (832 + 20 padded to 32)", n)
	}
}

// TestWriterExactBytes compares a tiny file with bytes written out by hand
// from the spec.
func TestWriterExactBytes(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.AddKV("k", uint16(0x1234)); err != nil {
		t.Fatal(err)
	}
	if err := w.AddTensor("t", dtype.F32, []uint64{2}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensorData("t", []byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	var want []byte
	le := binary.LittleEndian
	want = append(want, 'G', 'G', 'U', 'F')
	want = le.AppendUint32(want, 3)
	want = le.AppendUint64(want, 1) // tensors
	want = le.AppendUint64(want, 1) // kvs
	want = le.AppendUint64(want, 1)
	want = append(want, 'k')
	want = le.AppendUint32(want, 2) // uint16
	want = append(want, 0x34, 0x12)
	want = le.AppendUint64(want, 1)
	want = append(want, 't')
	want = le.AppendUint32(want, 1) // n_dims
	want = le.AppendUint64(want, 2)
	want = le.AppendUint32(want, 0) // F32
	want = le.AppendUint64(want, 0) // offset
	// 24 header + 15 kv + 33 tensor info = 72 bytes, padded to 96.
	if len(want) != 72 {
		t.Fatalf("hand-built header is %d bytes", len(want))
	}
	want = append(want, make([]byte, 96-72)...)
	want = append(want, 1, 2, 3, 4, 5, 6, 7, 8)
	want = append(want, make([]byte, 24)...)
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("bytes\n%x\nwant\n%x", buf.Bytes(), want)
	}
}

func TestWriterAlignment(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddTensor("a", dtype.F32, []uint64{3}))
	must(w.AddKV(KeyAlignment, uint32(128)))
	must(w.AddTensor("b", dtype.F32, []uint64{5}))
	must(w.WriteHeader())
	must(w.WriteTensorData("a", tensorBytes(0, 12)))
	must(w.WriteTensorFrom("b", bytes.NewReader(tensorBytes(1, 20))))
	must(w.Close())
	f, err := parseBytes(buf.Bytes())
	must(err)
	if f.Alignment != 128 || f.parts[0].dataOffset%128 != 0 || f.Tensors[1].Offset != 128 || buf.Len()%128 != 0 {
		t.Fatalf("alignment %d, data at %d, b at %d, size %d", f.Alignment, f.parts[0].dataOffset, f.Tensors[1].Offset, buf.Len())
	}
	b, _ := f.TensorData(&f.Tensors[1])
	if !bytes.Equal(b, tensorBytes(1, 20)) {
		t.Fatal("tensor b differs")
	}
}

func TestWriterErrors(t *testing.T) {
	check := func(err error, want string) {
		t.Helper()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("error %v, want it to mention %q", err, want)
		}
	}
	w := NewWriter(io.Discard)
	check(w.AddKV("x", 5), "Go type int has no fixed GGUF width")
	check(w.AddKV("x", []int{1}), "[]int has no fixed GGUF width")
	check(w.AddKV("x", struct{}{}), "has no GGUF value type")
	check(w.AddKV("x", Array{Elem: Uint32, Values: []int32{1}}), "array declared as array[uint32] holds []int32")
	check(w.AddKV("x", Array{Elem: Uint32, Values: 7}), "not a GGUF array slice")
	check(w.AddKV("", uint8(1)), "key length 0")
	check(w.AddKV(KeyAlignment, uint32(48)), "power of two")
	check(w.AddKV(KeyAlignment, "32"), "must be a uint32")
	check(w.AddKV(KeyAlignment, uint64(32)), "must be a uint32")
	if err := w.AddKV("x", uint8(1)); err != nil {
		t.Fatal(err)
	}
	check(w.AddKV("x", uint8(2)), `duplicate key "x"`)
	check(w.AddTensor("t", dtype.Type(99), []uint64{4}), "unknown tensor type id 99")
	check(w.AddTensor("t", dtype.Q4_K, []uint64{100}), "not a multiple of the block size 256")
	check(w.AddTensor("t", dtype.F32, []uint64{1, 1, 1, 1, 1}), "5 dimensions")
	check(w.AddTensor("t", dtype.F32, nil), "no dimensions")
	check(w.AddTensor(strings.Repeat("n", 64), dtype.F32, []uint64{1}), "want 1..63")
	if err := w.AddTensor("t", dtype.F32, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	check(w.AddTensor("t", dtype.F32, []uint64{4}), `duplicate tensor name "t"`)
	if err := w.AddTensor("u", dtype.F32, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	check(w.WriteTensorData("t", make([]byte, 16)), "before WriteHeader")
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	check(w.WriteHeader(), "WriteHeader called twice")
	check(w.AddKV("y", uint8(1)), "after WriteHeader")
	check(w.AddTensor("v", dtype.F32, []uint64{4}), "after WriteHeader")
	check(w.WriteTensorData("u", make([]byte, 16)), `tensor data for "u", want "t"`)
	check(w.WriteTensorData("t", make([]byte, 15)), "15 bytes, want 16")
	if err := w.WriteTensorData("t", make([]byte, 16)); err != nil {
		t.Fatal(err)
	}
	check(w.Close(), `tensor "u" (2 of 2) and later were declared but never written`)

	w = NewWriter(io.Discard)
	if err := w.AddTensor("t", dtype.F32, []uint64{4}); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	check(w.WriteTensorFrom("t", bytes.NewReader(make([]byte, 10))), "reader ended after 10 of 16 bytes")
	check(w.Close(), "reader ended") // sticky

	w = NewWriter(failWriter{})
	if err := w.AddKV("big", make([]uint8, 2<<20)); err != nil {
		t.Fatal(err)
	}
	check(w.WriteHeader(), "disk full")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestMetadataOnlyFile: Close without tensors writes the header itself.
func TestMetadataOnlyFile(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf)
	if err := w.AddKV("general.architecture", "llama"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parseBytes(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if f.Architecture() != "llama" || len(f.Tensors) != 0 || buf.Len()%32 != 0 {
		t.Fatalf("arch %q, %d tensors, %d bytes", f.Architecture(), len(f.Tensors), buf.Len())
	}
}
