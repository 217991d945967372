package model

import (
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// TestReadConfigNextN: deepseek2.nextn_predict_layers (the MTP blocks `dseek
// convert --mtp` keeps after the main layers) is optional; the main layer
// count is block_count minus it, and a value that leaves no main layer, or
// has the wrong type, is an error naming the key rather than a panic or a
// model that runs the MTP blocks. The fixture has block_count 3.
func TestReadConfigNextN(t *testing.T) {
	const file = "ds3-tiny-Q4_K_M.gguf"
	cfg, err := ReadConfig(metaOf(t, file, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NLayer != 3 || cfg.NNextN != 0 || cfg.BlockCount() != 3 {
		t.Fatalf("absent key: NLayer %d, NNextN %d, BlockCount %d; want 3, 0, 3", cfg.NLayer, cfg.NNextN, cfg.BlockCount())
	}
	for _, n := range []uint32{0, 1, 2} {
		cfg, err := ReadConfig(metaOf(t, file, nil, map[string]any{"deepseek2.nextn_predict_layers": n}))
		if err != nil {
			t.Errorf("nextn_predict_layers %d: %v", n, err)
			continue
		}
		if cfg.NLayer != 3-int(n) || cfg.NNextN != int(n) || cfg.BlockCount() != 3 {
			t.Errorf("nextn_predict_layers %d: NLayer %d, NNextN %d, BlockCount %d", n, cfg.NLayer, cfg.NNextN, cfg.BlockCount())
		}
		m := &Model{Config: cfg}
		if got, want := m.KVBytesPerToken(dtype.F16), int64(cfg.NLayer*cfg.KVWidth()*2); got != want {
			t.Errorf("nextn_predict_layers %d: KV bytes per token %d, want %d (main layers only)", n, got, want)
		}
	}
	for _, c := range []struct {
		val  any
		want string
	}{
		{uint32(3), "must be less than deepseek2.block_count 3"},
		{uint32(4), "must be less than deepseek2.block_count 3"},
		{uint32(1 << 31), "deepseek2.nextn_predict_layers"},
		{int32(-1), "deepseek2.nextn_predict_layers"},
		{"1", "deepseek2.nextn_predict_layers"},
	} {
		cfg, err := ReadConfig(metaOf(t, file, nil, map[string]any{"deepseek2.nextn_predict_layers": c.val}))
		if err == nil {
			t.Errorf("nextn_predict_layers %v: loaded with NLayer %d, want an error", c.val, cfg.NLayer)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Count(err.Error(), "model:") != 1 {
			t.Errorf("nextn_predict_layers %v: error %q, want it to contain %q once prefixed", c.val, err, c.want)
		}
	}
}

// TestIsMTPTensor: only blk.N.* with NLayer <= N < BlockCount() are MTP
// tensors, and none are without nextn_predict_layers.
func TestIsMTPTensor(t *testing.T) {
	c := &Config{NLayer: 3, NNextN: 1}
	for name, want := range map[string]bool{
		"blk.3.nextn.eh_proj.weight": true,
		"blk.3.ffn_down_exps.weight": true,
		"blk.2.ffn_down_exps.weight": false,
		"blk.30.attn_norm.weight":    false,
		"blk.4.attn_norm.weight":     false,
		"blk.x.attn_norm.weight":     false,
		"blk.3":                      false,
		"token_embd.weight":          false,
		"output.weight":              false,
	} {
		if got := c.IsMTPTensor(name); got != want {
			t.Errorf("IsMTPTensor(%q) = %v, want %v", name, got, want)
		}
	}
	if (&Config{NLayer: 3}).IsMTPTensor("blk.3.nextn.eh_proj.weight") {
		t.Error("IsMTPTensor true without NNextN")
	}
}
