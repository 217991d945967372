package model

import (
	"bytes"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// metaOf returns the metadata of a fixture GGUF (no tensors) with edit
// applied to every key: edit returns the new value, or nil to drop the key.
// Keys in add are appended.
func metaOf(t *testing.T, name string, edit func(key string, v any) any, add map[string]any) *gguf.File {
	t.Helper()
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	src, err := gguf.Open(filepath.Join(dir, "models", name))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	for _, kv := range src.KVs {
		v := kv.Value
		if edit != nil {
			v = edit(kv.Key, v)
		}
		if v == nil {
			continue
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	for k, v := range add {
		if err := w.AddKV(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func setKey(key string, val any) func(string, any) any {
	return func(k string, v any) any {
		if k == key {
			return val
		}
		return v
	}
}

// TestReadConfigRejectsBadFloats: non-finite or out-of-domain float
// hyperparameters (found by mutating fixture metadata) used to load and give
// NaN or garbage logits silently; each must be an error naming the key.
func TestReadConfigRejectsBadFloats(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := []struct {
		key  string
		val  any
		want string
	}{
		{"deepseek2.attention.layer_norm_rms_epsilon", nan, "layer_norm_rms_epsilon"},
		{"deepseek2.attention.layer_norm_rms_epsilon", float32(-1), "layer_norm_rms_epsilon"},
		{"deepseek2.rope.freq_base", float32(0), "freq_base"},
		{"deepseek2.rope.freq_base", float32(-10000), "freq_base"},
		{"deepseek2.rope.freq_base", nan, "freq_base"},
		{"deepseek2.rope.scaling.factor", float32(-4), "rope.scaling.factor"},
		{"deepseek2.rope.scaling.factor", inf, "rope.scaling.factor"},
		{"deepseek2.rope.scaling.yarn_log_multiplier", nan, "yarn_log_multiplier"},
		{"deepseek2.expert_weights_scale", nan, "expert_weights_scale"},
		{"deepseek2.expert_weights_scale", math.Inf(-1), "expert_weights_scale"},
		{"deepseek2.rope.scaling.type", uint32(1), "rope.scaling.type"},
	}
	for _, c := range cases {
		f := metaOf(t, "ds3-tiny-Q4_K_M.gguf", setKey(c.key, c.val), nil)
		cfg, err := ReadConfig(f)
		if err == nil {
			t.Errorf("%s = %v: loaded (%+v), want an error", c.key, c.val, cfg.Rope)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "model: model:") {
			t.Errorf("%s = %v: error %q does not name %q cleanly", c.key, c.val, err, c.want)
		}
	}
	// The unmodified file loads with its factor of 4.
	cfg, err := ReadConfig(metaOf(t, "ds3-tiny-Q4_K_M.gguf", nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.YaRNFactor != 4 || cfg.Rope.FreqScale != 0.25 {
		t.Errorf("yarn factor %v, freq scale %v; want 4, 0.25", cfg.YaRNFactor, cfg.Rope.FreqScale)
	}
}

// TestReadConfigRopeScaleLegacy: llama.cpp's load_hparams reads the scaling
// factor from rope.scaling.factor or else the older rope.scale_linear (the
// factor itself, freq_scale = 1/factor), with the type defaulting to linear
// and "none" never scaling. dseek used to invert rope.scale_linear and to
// ignore a factor without a type.
func TestReadConfigRopeScaleLegacy(t *testing.T) {
	cases := []struct {
		add  map[string]any
		want float32 // FreqScale
	}{
		{map[string]any{"qwen2.rope.scale_linear": float32(4)}, 0.25},
		{map[string]any{"qwen2.rope.scaling.factor": float32(2)}, 0.5},
		{map[string]any{"qwen2.rope.scaling.type": "linear", "qwen2.rope.scale_linear": float32(8)}, 0.125},
		{map[string]any{"qwen2.rope.scaling.type": "none", "qwen2.rope.scaling.factor": float32(4)}, 1},
		{map[string]any{"qwen2.rope.scaling.factor": float32(0)}, 1},
		{nil, 1},
	}
	for _, c := range cases {
		cfg, err := ReadConfig(metaOf(t, "qwen2-tiny-Q8_0.gguf", nil, c.add))
		if err != nil {
			t.Errorf("%v: %v", c.add, err)
			continue
		}
		if cfg.Rope.FreqScale != c.want {
			t.Errorf("%v: freq scale %v, want %v", c.add, cfg.Rope.FreqScale, c.want)
		}
	}
}

// TestReadConfigOutOfRangeMessage: the error for a too-large integer names
// the key once, without a doubled "model: model:" prefix.
func TestReadConfigOutOfRangeMessage(t *testing.T) {
	f := metaOf(t, "ds3-tiny-Q4_K_M.gguf", setKey("deepseek2.context_length", uint32(4000000000)), nil)
	_, err := ReadConfig(f)
	if err == nil || !strings.Contains(err.Error(), "deepseek2.context_length") || strings.Count(err.Error(), "model:") != 1 {
		t.Fatalf("error %v", err)
	}
}
