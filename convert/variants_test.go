package convert

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/safetensors"
)

// readEntries loads every tensor of a checkpoint directory.
func readEntries(t *testing.T, dir string) []stEntry {
	m, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var es []stEntry
	for _, n := range m.Names() {
		ti, _ := m.Tensor(n)
		b := make([]byte, ti.Size)
		if err := ti.ReadAt(b, 0); err != nil {
			t.Fatal(err)
		}
		es = append(es, stEntry{n, ti.DType, ti.Shape, b})
	}
	return es
}

func copyAux(t *testing.T, from, to string) {
	for _, n := range []string{"config.json", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(from, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, n), b, 0o644)
	}
}

// TestShardedCheckpoint: dsv2-tiny split into two shards with an index
// converts to exactly the bytes of the single-file checkpoint.
func TestShardedCheckpoint(t *testing.T) {
	src := filepath.Join(mustFixtures(t), "dsref", "hf", "dsv2-tiny-bf16")
	es := readEntries(t, src)
	dir := t.TempDir()
	copyAux(t, src, dir)
	half := len(es) / 2
	wm := map[string]string{}
	for i, part := range [][]stEntry{es[:half], es[half:]} {
		name := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i]
		writeSafetensors(t, filepath.Join(dir, name), append([]stEntry(nil), part...))
		for _, e := range part {
			wm[e.name] = name
		}
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{}, "weight_map": wm})
	os.WriteFile(filepath.Join(dir, safetensors.IndexFile), b, 0o644)
	opt := Options{Type: "f16", Name: "x"}
	if !bytes.Equal(convertToBytes(t, dir, opt), convertToBytes(t, src, opt)) {
		t.Error("sharded conversion differs from the single-file one")
	}
	os.Remove(filepath.Join(dir, "model-00002-of-00002.safetensors"))
	if _, err := Convert(t.Context(), dir, &bytes.Buffer{}, opt); err == nil {
		t.Error("missing shard accepted")
	}
}

func mustFixtures(t *testing.T) string { return mustFixturesB(t) }

func mustFixturesB(t testing.TB) string {
	d, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestUE8M0Scales: FP8 block scales rounded to powers of two and stored
// once as F32 factors and once as F8_E8M0 exponents (V3.1's ue8m0 format)
// give identical GGUFs, and differ from the original scales.
func TestUE8M0Scales(t *testing.T) {
	src := filepath.Join(mustFixtures(t), "dsref", "hf", "dsv3-tiny-fp8")
	es := readEntries(t, src)
	var outs [][]byte
	for _, e8 := range []bool{false, true} {
		dir := t.TempDir()
		copyAux(t, src, dir)
		var mod []stEntry
		for _, e := range es {
			if strings.HasSuffix(e.name, "_scale_inv") {
				e = pow2Scales(e, e8)
			}
			mod = append(mod, e)
		}
		writeSafetensors(t, filepath.Join(dir, "model.safetensors"), mod)
		outs = append(outs, convertToBytes(t, dir, Options{Type: "bf16", Name: "x"}))
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("F32 power-of-two scales and E8M0 scales convert differently")
	}
	if bytes.Equal(outs[0], convertToBytes(t, src, Options{Type: "bf16", Name: "x"})) {
		t.Error("rounding the scales changed nothing: the scales are not used")
	}
}

// pow2Scales rounds F32 scales to 2^round(log2 s), as F32 or E8M0 bytes.
func pow2Scales(e stEntry, e8 bool) stEntry {
	n := len(e.data) / 4
	var out []byte
	for i := range n {
		s := math.Float32frombits(binary.LittleEndian.Uint32(e.data[4*i:]))
		k := int(math.Round(math.Log2(float64(s))))
		if e8 {
			out = append(out, byte(k+127))
		} else {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(math.Ldexp(1, k))))
		}
	}
	e.data = out
	if e8 {
		e.dtype = "F8_E8M0"
	}
	return e
}

// TestKeepMTP: --mtp keeps the V3 MTP layer as block 3 with the nextn
// tensor names of newer llama.cpp and deepseek2.nextn_predict_layers.
func TestKeepMTP(t *testing.T) {
	src := filepath.Join(mustFixtures(t), "dsref", "hf", "dsv3-tiny-fp8")
	b := convertToBytes(t, src, Options{KeepMTP: true})
	g, err := gguf.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := g.Uint("deepseek2.block_count"); n != 4 {
		t.Errorf("block_count %d, want 4", n)
	}
	if n, _ := g.Uint("deepseek2.nextn_predict_layers"); n != 1 {
		t.Errorf("nextn_predict_layers %d, want 1", n)
	}
	for _, n := range []string{"blk.3.nextn.eh_proj.weight", "blk.3.nextn.enorm.weight", "blk.3.nextn.hnorm.weight",
		"blk.3.nextn.embed_tokens.weight", "blk.3.nextn.shared_head_head.weight", "blk.3.nextn.shared_head_norm.weight",
		"blk.3.ffn_down_exps.weight", "blk.3.attn_kv_b.weight", "blk.3.exp_probs_b.bias"} {
		if _, ok := g.Tensor(n); !ok {
			t.Errorf("tensor %s missing", n)
		}
	}
	plain := convertToBytes(t, src, Options{})
	p, _ := gguf.Parse(bytes.NewReader(plain), int64(len(plain)))
	if _, ok := p.Tensor("blk.3.nextn.eh_proj.weight"); ok {
		t.Error("MTP layer kept without KeepMTP")
	}
}
