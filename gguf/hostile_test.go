package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// raw builds GGUF bytes by hand, independent of the Writer.
type raw struct{ b []byte }

func rawHeader(version uint32, nTensors, nKV uint64) *raw {
	r := &raw{b: []byte("GGUF")}
	return r.u32(version).u64(nTensors).u64(nKV)
}

func (r *raw) u8(v uint8) *raw   { r.b = append(r.b, v); return r }
func (r *raw) u32(v uint32) *raw { r.b = binary.LittleEndian.AppendUint32(r.b, v); return r }
func (r *raw) u64(v uint64) *raw { r.b = binary.LittleEndian.AppendUint64(r.b, v); return r }
func (r *raw) str(s string) *raw { r.u64(uint64(len(s))); r.b = append(r.b, s...); return r }

// tensor appends a tensor info.
func (r *raw) tensor(name string, typ uint32, offset uint64, dims ...uint64) *raw {
	r.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		r.u64(d)
	}
	return r.u32(typ).u64(offset)
}

// data pads to 32 and appends n bytes of tensor data.
func (r *raw) data(n int) *raw {
	for len(r.b)%32 != 0 {
		r.b = append(r.b, 0)
	}
	r.b = append(r.b, make([]byte, n)...)
	return r
}

func parseBytes(b []byte) (*File, error) { return Parse(bytes.NewReader(b), int64(len(b))) }

// wantFormatError requires a *FormatError whose message contains want.
func wantFormatError(t *testing.T, err error, want string) *FormatError {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want *FormatError containing %q", err, err, want)
	}
	if !strings.Contains(fe.Error(), want) {
		t.Fatalf("error %q does not contain %q", fe.Error(), want)
	}
	return fe
}

// TestWrongMagic asserts the exact message, for Parse and for Open.
func TestWrongMagic(t *testing.T) {
	b := append([]byte("GGUX"), make([]byte, 20)...)
	_, err := parseBytes(b)
	wantExact(t, err, `gguf: at byte 0x0: bad magic "GGUX", want "GGUF": not a GGUF file`)
	p := filepath.Join(t.TempDir(), "model.gguf")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(p)
	wantExact(t, err, `gguf: `+p+`: at byte 0x0: bad magic "GGUX", want "GGUF": not a GGUF file`)
	_, err = parseBytes(nil)
	wantExact(t, err, `gguf: at byte 0x0: magic: unexpected end of file: need 4 bytes, 0 left (file size 0)`)
}

func wantExact(t *testing.T, err error, want string) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want *FormatError", err, err)
	}
	if err.Error() != want {
		t.Fatalf("error\n  %s\nwant\n  %s", err, want)
	}
}

// TestTruncatedMessages asserts exact messages for cuts in the counts, in a
// string and in the tensor data. The offsets are hand-computed: header 24
// bytes; kv "general.name" (8+12+4) then the string length at 48 (0x30);
// for the tensor file the kv ends at 60, tensor info "w" (8+1, n_dims 4,
// 2 dims 16, type 4) puts the offset field at 93 (0x5d), data at 128..160.
func TestTruncatedMessages(t *testing.T) {
	long := rawHeader(3, 0, 1).str("general.name").u32(uint32(String)).str("tiny-model-name").b
	_, err := parseBytes(long[:65])
	wantExact(t, err, `gguf: at byte 0x30: kv 0 "general.name": string length 15 exceeds the 9 bytes left in the file (size 65)`)

	full := rawHeader(3, 1, 1).str("general.name").u32(uint32(String)).str("tiny").
		tensor("w", 0, 0, 4, 2).data(32).b
	if len(full) != 160 {
		t.Fatalf("hand-built file is %d bytes, want 160", len(full))
	}
	if _, err := parseBytes(full); err != nil {
		t.Fatal(err)
	}
	_, err = parseBytes(full[:159])
	wantExact(t, err, `gguf: at byte 0x5d: tensor "w": data [128,160) beyond end of file (size 159)`)
	_, err = parseBytes(full[:20])
	wantExact(t, err, `gguf: at byte 0x10: metadata kv count: unexpected end of file: need 8 bytes, 4 left (file size 20)`)
	_, err = parseBytes(full[:58])
	wantExact(t, err, `gguf: at byte 0x8: tensor count 1 needs at least 24 bytes each after 1 kvs, only 34 bytes left (file size 58)`)
	_, err = parseBytes(full[:95])
	wantExact(t, err, `gguf: at byte 0x5d: tensor "w": data offset: unexpected end of file: need 8 bytes, 2 left (file size 95)`)
}

// TestTruncatedEverywhere cuts files at many points: every cut before the end
// of the last tensor's data must give a *FormatError, never a panic.
func TestTruncatedEverywhere(t *testing.T) {
	var buf bytes.Buffer
	writeAllTypes(t, &buf)
	small := buf.Bytes()
	fix, err := os.ReadFile(filepath.Join(fixturesDir(t), "models", "qwen2-tiny-Q4_K_M.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		b      []byte
		stride int
	}{{"alltypes", small, 1}, {"qwen2-tiny-Q4_K_M", fix, 0}} {
		f, err := parseBytes(c.b)
		if err != nil {
			t.Fatal(err)
		}
		last := f.Tensors[len(f.Tensors)-1]
		end := int(f.parts[0].dataOffset + int64(last.Offset) + last.Size)
		header := int(f.parts[0].dataOffset)
		stride := c.stride
		if stride == 0 {
			stride = 13
		}
		var cuts []int
		for i := 0; i < header; i += stride {
			cuts = append(cuts, i)
		}
		for i := 0; i < 256; i++ {
			cuts = append(cuts, header+(end-header)*i/256)
		}
		cuts = append(cuts, end-1)
		for _, cut := range cuts {
			_, err := parseBytes(c.b[:cut])
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("%s cut at %d: error %v, want *FormatError", c.name, cut, err)
			}
		}
		if _, err := parseBytes(c.b[:end]); err != nil {
			t.Fatalf("%s cut after the last tensor's data (padding removed): %v", c.name, err)
		}
	}
}

// TestHostile feeds hand-made malformed files; each must fail with a
// *FormatError naming the problem.
func TestHostile(t *testing.T) {
	kv := func(nKV uint64) *raw { return rawHeader(3, 0, nKV).str("k") }
	tensorFile := func(typ uint32, offset uint64, dims ...uint64) []byte {
		return rawHeader(3, 1, 0).tensor("w", typ, offset, dims...).data(64).b
	}
	nested := kv(1).u32(uint32(ArrayType))
	for i := 0; i < 20; i++ {
		nested.u32(uint32(ArrayType)).u64(1)
	}
	nested.u32(uint32(Uint8)).u64(0)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"version 1", rawHeader(1, 0, 0).b, "GGUF version 1 (32-bit counts) is not supported"},
		{"version 4", rawHeader(4, 0, 0).b, "unsupported GGUF version 4, want 2 or 3"},
		{"version 0", rawHeader(0, 0, 0).b, "unsupported GGUF version 0"},
		{"big endian", rawHeader(0x03000000, 0, 0).b, "big-endian GGUF"},
		{"huge kv count", rawHeader(3, 0, 1<<60).b, "metadata kv count 1152921504606846976 needs at least 13 bytes each"},
		{"huge tensor count", rawHeader(3, 1<<40, 0).u64(0).b, "tensor count 1099511627776 needs at least 24 bytes"},
		{"huge array", kv(1).u32(uint32(ArrayType)).u32(uint32(Uint32)).u64(1 << 62).u32(7).b,
			"array[uint32] of 4611686018427387904 elements needs at least 4 bytes each, only 4 bytes left"},
		{"huge string array", kv(1).u32(uint32(ArrayType)).u32(uint32(String)).u64(1 << 40).u64(0).b,
			"array[string] of 1099511627776 elements needs at least 8 bytes each"},
		{"huge nested array", kv(1).u32(uint32(ArrayType)).u32(uint32(ArrayType)).u64(1 << 33).u64(0).b,
			"array[array] of 8589934592 elements needs at least 12 bytes each"},
		{"huge string", kv(1).u32(uint32(String)).u64(math.MaxUint64).b, "string length 18446744073709551615 exceeds"},
		{"huge key", rawHeader(3, 0, 1).u64(1 << 50).u32(0).u8(0).b, "kv 0: key: string length"},
		{"bad value type", kv(1).u32(13).u8(0).b, "invalid value type id 13"},
		{"bad array elem type", kv(1).u32(uint32(ArrayType)).u32(99).u64(0).b, "invalid value type id 99"},
		{"bool 2", kv(1).u32(uint32(Bool)).u8(2).b, "bool value 2, want 0 or 1"},
		{"bool array 2", kv(1).u32(uint32(ArrayType)).u32(uint32(Bool)).u64(2).u8(1).u8(5).b, "array element 1: bool value 5"},
		{"deep nesting", nested.b, "arrays nested deeper than 16 levels"},
		{"duplicate key", kv(2).u32(uint32(Uint8)).u8(1).str("k").u32(uint32(Uint8)).u8(2).b, `kv 1: duplicate key "k" (first at kv 0)`},
		{"alignment 3", rawHeader(3, 0, 1).str(KeyAlignment).u32(uint32(Uint32)).u32(3).b, "general.alignment is 3, want a power of two"},
		{"alignment 0", rawHeader(3, 0, 1).str(KeyAlignment).u32(uint32(Uint32)).u32(0).b, "general.alignment is 0, want a power of two"},
		{"alignment string", rawHeader(3, 0, 1).str(KeyAlignment).u32(uint32(String)).str("32").b, "general.alignment is string, want a non-negative integer"},
		{"alignment negative", rawHeader(3, 0, 1).str(KeyAlignment).u32(uint32(Int32)).u32(0xffffffe0).b, "general.alignment is int32, want a non-negative integer"},
		{"n_dims 100", rawHeader(3, 1, 0).str("w").u32(100).u64(0).u64(0).b, `tensor "w": 100 dimensions, at most 4 allowed (GGML_MAX_DIMS)`},
		{"unknown type", tensorFile(99, 0, 4), `tensor "w": unknown tensor type id 99`},
		{"retired type id 4", tensorFile(4, 0, 4), `tensor "w": unknown tensor type id 4`},
		{"dims overflow", tensorFile(0, 0, 1<<40, 1<<40), `tensor "w": shape [1099511627776 1099511627776] has more than 2^63-1 elements`},
		{"dim above int64", tensorFile(0, 0, 1<<63), `tensor "w": dimension 0 is 9223372036854775808, above the int64 range`},
		{"bytes overflow", tensorFile(0, 0, 1<<31, 1<<31), `more than 2^63-1 bytes`},
		{"block size", tensorFile(2, 0, 33), `tensor "w": Q4_0 row of 33 elements is not a multiple of the block size 32`},
		{"offset overflow", tensorFile(0, math.MaxUint64-31, 4), `tensor "w": data offset 18446744073709551584 (+16 bytes) overflows`},
		{"offset beyond", tensorFile(0, 1<<20, 4), `tensor "w": data [1048640,1048656) beyond end of file (size 128)`},
		{"offset misaligned", tensorFile(0, 8, 4), `tensor "w": data offset 8 is not a multiple of the alignment 32`},
		{"size beyond", tensorFile(0, 0, 1000), `tensor "w": data [64,4064) beyond end of file`},
		{"duplicate tensor", rawHeader(3, 2, 0).tensor("w", 0, 0, 4).tensor("w", 0, 32, 4).data(64).b, `tensor info 1: duplicate tensor name "w" (first at tensor 0)`},
		{"tensor name huge", rawHeader(3, 1, 0).u64(1 << 40).u64(0).u64(0).u64(0).b, "tensor info 0: name: string length 1099511627776 exceeds"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseBytes(c.b)
			wantFormatError(t, err, c.want)
		})
	}
}

// TestZeroDimTensors: ggml accepts n_dims 0 (a scalar) and zero-sized dims.
func TestZeroDimTensors(t *testing.T) {
	b := rawHeader(3, 2, 0).tensor("s", 0, 0).tensor("e", 0, 32, 0, 7).data(32).b
	f, err := parseBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := f.Tensor("s")
	e, _ := f.Tensor("e")
	if s.Size != 4 || s.NumElements() != 1 || s.Rows() != 1 || e.Size != 0 || e.NumElements() != 0 || e.Rows() != 7 {
		t.Fatalf("scalar %+v, empty %+v", s, e)
	}
}
