package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeST writes a safetensors file with the given tensors (raw bytes).
func writeST(t *testing.T, path string, names []string, dtypes []string, shapes [][]int64, data [][]byte) {
	t.Helper()
	hdr := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var off int64
	var body []byte
	for i, n := range names {
		hdr[n] = map[string]any{"dtype": dtypes[i], "shape": shapes[i], "data_offsets": []int64{off, off + int64(len(data[i]))}}
		off += int64(len(data[i]))
		body = append(body, data[i]...)
	}
	h, _ := json.Marshal(hdr)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(append(out, h...), body...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestE4M3KnownValues(t *testing.T) {
	// Values from the OCP 8-bit floating point spec (E4M3 table).
	for b, want := range map[byte]float64{
		0x00: 0, 0x80: math.Copysign(0, -1), 0x01: math.Ldexp(1, -9), 0x07: 7 * math.Ldexp(1, -9),
		0x08: math.Ldexp(1, -6), 0x38: 1, 0x3C: 1.5, 0x40: 2, 0x7E: 448, 0xFE: -448, 0x77: 240, 0x30: 0.5,
	} {
		if got := E4M3ToF32(b); float64(got) != want || math.Signbit(float64(got)) != math.Signbit(want) {
			t.Errorf("E4M3(%#02x) = %v, want %v", b, got, want)
		}
	}
	for _, b := range []byte{0x7F, 0xFF} {
		if !math.IsNaN(float64(E4M3ToF32(b))) {
			t.Errorf("E4M3(%#02x) not NaN", b)
		}
	}
	// Monotone over the positive finite range (a different check than the table).
	prev := float32(-1)
	for b := 0; b < 0x7F; b++ {
		v := E4M3ToF32(byte(b))
		if v <= prev {
			t.Fatalf("E4M3 not increasing at %#x: %v after %v", b, v, prev)
		}
		prev = v
	}
	if E8M0ToF32(127) != 1 || E8M0ToF32(130) != 8 || E8M0ToF32(120) != 1.0/128 || !math.IsNaN(float64(E8M0ToF32(255))) {
		t.Error("E8M0 decode")
	}
}

func TestBlockScalesPartialTilesAndUE8M0(t *testing.T) {
	dir := t.TempDir()
	// weight [3, 5] in tiles of 2x2 -> scales [2, 3]
	q := []byte{0x38, 0x40, 0x38, 0x40, 0x38, 0x38, 0x38, 0x38, 0x38, 0x38, 0x30, 0x30, 0x30, 0x30, 0x30}
	f32 := make([]byte, 0, 24)
	for _, s := range []float32{1, 2, 4, 8, 16, 32} {
		f32 = binary.LittleEndian.AppendUint32(f32, math.Float32bits(s))
	}
	e8 := []byte{127, 128, 129, 130, 131, 132}
	path := filepath.Join(dir, "model.safetensors")
	writeST(t, path, []string{"w", "w_scale_f32", "w_scale_e8"}, []string{"F8_E4M3", "F32", "F8_E8M0"},
		[][]int64{{3, 5}, {2, 3}, {2, 3}}, [][]byte{q, f32, e8})
	m, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	w, _ := m.Tensor("w")
	for _, sn := range []string{"w_scale_f32", "w_scale_e8"} {
		st, _ := m.Tensor(sn)
		bs, err := ReadBlockScales(st, 3, 5, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		want := [][]float32{{1, 2, 2, 4, 4}, {1, 1, 2, 2, 4}, {4, 4, 8, 8, 16}}
		for r := range int64(3) {
			row := make([]byte, 5)
			if err := w.ReadAt(row, r*5); err != nil {
				t.Fatal(err)
			}
			got := make([]float32, 5)
			if err := bs.DequantRow(r, row, got); err != nil {
				t.Fatal(err)
			}
			for j := range got {
				if got[j] != want[r][j] {
					t.Errorf("%s row %d: %v, want %v", sn, r, got, want[r])
					break
				}
			}
		}
	}
	st, _ := m.Tensor("w_scale_f32")
	if _, err := ReadBlockScales(st, 3, 5, 128, 128); err == nil {
		t.Error("wrong scale shape accepted")
	}
}

func TestShardedIndex(t *testing.T) {
	dir := t.TempDir()
	bf := []byte{0x80, 0x3f, 0x00, 0x40} // bf16 1.0, 2.0
	writeST(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), []string{"b"}, []string{"BF16"}, [][]int64{{2}}, [][]byte{bf})
	writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), []string{"a"}, []string{"BF16"}, [][]int64{{2}}, [][]byte{bf})
	idx := `{"metadata":{},"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors"}}`
	if err := os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(m.Names(), ","); got != "b,a" {
		t.Errorf("names %s, want b,a (file order)", got)
	}
	a, _ := m.Tensor("a")
	raw := make([]byte, 4)
	if err := a.ReadAt(raw, 0); err != nil {
		t.Fatal(err)
	}
	v := make([]float32, 2)
	if err := ToFloat32(a.DType, raw, v); err != nil || v[0] != 1 || v[1] != 2 {
		t.Errorf("a = %v %v", v, err)
	}
	m.Close()
	// A weight map naming a tensor that no shard holds is an error.
	idx = `{"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00001-of-00002.safetensors","c":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o644)
	if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("missing tensor: err %v", err)
	}
}

func TestBadHeaders(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string][]byte{
		"short":    {1, 2, 3},
		"huge":     binary.LittleEndian.AppendUint64(nil, 1<<40),
		"badjson":  append(binary.LittleEndian.AppendUint64(nil, 3), []byte("{x}")...),
		"overflow": append(binary.LittleEndian.AppendUint64(nil, 58), []byte(`{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}  `)...),
		"dtype":    append(binary.LittleEndian.AppendUint64(nil, 56), []byte(`{"t":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}  x`)...),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, 0o644)
		if _, err := Open(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
