package gguf

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"
)

// FuzzParse parses arbitrary bytes. Invalid input must give a *FormatError
// (never a panic or another error type). Valid input must yield tensor data of
// exactly Size bytes, getters that do not panic, and, when the Writer accepts
// the contents (it is stricter: tensor names < 64 bytes, at least 1 dim), a
// rewrite that parses back to the same tensors and re-serializes to the same
// bytes. Seeds: every fixture GGUF cut to its first 64 KiB, plus small
// hand-made files.
func FuzzParse(f *testing.F) {
	for _, p := range fixtureGGUFs(f) {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), 64<<10)])
	}
	var buf bytes.Buffer
	writeAllTypes(f, &buf)
	f.Add(buf.Bytes())
	f.Add(rawHeader(3, 1, 1).str("general.name").u32(uint32(String)).str("tiny").tensor("w", 0, 0, 4, 2).data(32).b)
	f.Add(rawHeader(3, 2, 0).tensor("s", 0, 0).tensor("e", 0, 32, 0, 7).data(32).b)
	f.Add(rawHeader(2, 0, 1).str(KeyAlignment).u32(uint32(Uint32)).u32(64).b)
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error is %T, not *FormatError: %v", err, err)
			}
			return
		}
		for i := range g.Tensors {
			d, err := g.TensorData(&g.Tensors[i])
			if err != nil || int64(len(d)) != g.Tensors[i].Size {
				t.Fatalf("tensor %q: %d bytes, want %d (%v)", g.Tensors[i].Name, len(d), g.Tensors[i].Size, err)
			}
		}
		for _, kv := range g.KVs {
			g.String(kv.Key)
			g.Uint(kv.Key)
			g.Int(kv.Key)
			g.Float(kv.Key)
			g.Bool(kv.Key)
			g.Strings(kv.Key)
			g.Int32s(kv.Key)
			g.Float32s(kv.Key)
		}
		if g.Alignment > 1<<16 {
			return // valid, but a rewrite would pad to up to 1 GiB
		}
		var out bytes.Buffer
		if err := rewrite(g, &out); err != nil {
			return
		}
		h, err := Parse(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if len(h.KVs) != len(g.KVs) || len(h.Tensors) != len(g.Tensors) {
			t.Fatalf("rewrite has %d kvs / %d tensors, want %d / %d", len(h.KVs), len(h.Tensors), len(g.KVs), len(g.Tensors))
		}
		for i := range g.Tensors {
			a, b := &g.Tensors[i], &h.Tensors[i]
			if a.Name != b.Name || a.Type != b.Type || !reflect.DeepEqual(a.Dims, b.Dims) || a.Size != b.Size {
				t.Fatalf("tensor %d: %+v, rewritten %+v", i, a, b)
			}
			da, _ := g.TensorData(a)
			db, _ := h.TensorData(b)
			if !bytes.Equal(da, db) {
				t.Fatalf("tensor %q: data differs after rewrite", a.Name)
			}
		}
		var again bytes.Buffer
		if err := rewrite(h, &again); err != nil {
			t.Fatalf("second rewrite: %v", err)
		}
		if !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("serialization not stable: %s", firstDiff(again.Bytes(), out.Bytes()))
		}
	})
}
