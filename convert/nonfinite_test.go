package convert

import (
	"bytes"
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"
)

// TestNonFiniteFP8Rejected: an FP8 checkpoint whose weight_scale_inv holds
// NaN or Inf, or whose E4M3 weight holds a NaN code, fails to convert with
// an error naming the tensor; it used to convert to NaN weights without
// complaint.
func TestNonFiniteFP8Rejected(t *testing.T) {
	src := filepath.Join(mustFixtures(t), "dsref", "hf", "dsv3-tiny-fp8")
	es := readEntries(t, src)
	const weight = "model.layers.1.self_attn.kv_a_proj_with_mqa.weight"
	cases := []struct {
		name, tensor string
		edit         func(e stEntry) stEntry
	}{
		{"NaN scale", weight + "_scale_inv", func(e stEntry) stEntry { return setScale(t, e, float32(math.NaN())) }},
		{"Inf scale", weight + "_scale_inv", func(e stEntry) stEntry { return setScale(t, e, float32(math.Inf(1))) }},
		{"NaN weight", weight, func(e stEntry) stEntry {
			if e.dtype != "F8_E4M3" {
				t.Fatalf("%s is %s, want F8_E4M3", e.name, e.dtype)
			}
			e.data = append([]byte(nil), e.data...)
			e.data[5] = 0x7f // E4M3FN NaN
			return e
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyAux(t, src, dir)
			var mod []stEntry
			found := false
			for _, e := range es {
				if e.name == c.tensor {
					e, found = c.edit(e), true
				}
				mod = append(mod, e)
			}
			if !found {
				t.Fatalf("the fixture has no tensor %s", c.tensor)
			}
			writeSafetensors(t, filepath.Join(dir, "model.safetensors"), mod)
			_, err := Convert(t.Context(), dir, &bytes.Buffer{}, Options{Type: "bf16", Name: "x"})
			if err == nil || !strings.Contains(err.Error(), c.tensor) {
				t.Fatalf("err = %v, want an error naming %s", err, c.tensor)
			}
			if _, err := ConvertFile(t.Context(), dir, filepath.Join(dir, "out.gguf"), Options{Type: "q8_0", Name: "x"}); err == nil {
				t.Fatal("ConvertFile to Q8_0 accepted the damaged checkpoint")
			}
		})
	}
}

// setScale sets the first block scale of an F32 or BF16 scale tensor.
func setScale(t *testing.T, e stEntry, v float32) stEntry {
	e.data = append([]byte(nil), e.data...)
	switch e.dtype {
	case "F32":
		binary.LittleEndian.PutUint32(e.data, math.Float32bits(v))
	case "BF16":
		binary.LittleEndian.PutUint16(e.data, uint16(math.Float32bits(v)>>16))
	default:
		t.Fatalf("%s: scale dtype %s", e.name, e.dtype)
	}
	return e
}
