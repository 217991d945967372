package engine

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"github.com/dseek-ai/dseek/model"
)

// TestMLACacheHoldsLatentOnly: for every deepseek2 fixture the KV cache holds
// exactly (kv_lora_rank + qk_rope_head_dim) × n_layer values per token, and
// after a prompt the memory in use is that many values per cached token
// (rounded up to whole pages) — not per-head K and V.
func TestMLACacheHoldsLatentOnly(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"models/ds3-tiny-Q4_K_M.gguf", "models/ds2-lite-tiny-Q4_0.gguf", "dsref/gguf/dsv2-tiny-F16.gguf", "dsref/gguf/dsv3-tiny-BF16.gguf"} {
		for _, f32 := range []bool{false, true} {
			e, err := Load(context.Background(), filepath.Join(dir, name), Options{KVF32: f32, CtxSize: 256})
			if err != nil {
				t.Fatal(err)
			}
			c := e.Model.Config
			perToken := (c.KVLoraRank + c.QKRopeHeadDim) * c.NLayer
			elem := int64(2)
			if f32 {
				elem = 4
			}
			cfg := e.Cache.Config()
			if cfg.Width*cfg.NLayer != perToken {
				t.Errorf("%s: cache stores %d×%d values per token, want (%d+%d)×%d = %d", name, cfg.Width, cfg.NLayer, c.KVLoraRank, c.QKRopeHeadDim, c.NLayer, perToken)
			}
			if got := e.Model.KVBytesPerToken(cfg.Type); got != int64(perToken)*elem {
				t.Errorf("%s: KVBytesPerToken %d, want %d", name, got, int64(perToken)*elem)
			}
			naive := int64(c.NHead*(c.QKNopeHeadDim+c.QKRopeHeadDim+c.VHeadDim)*c.NLayer) * elem
			s := e.NewSequence()
			n := 40
			ids := make([]int32, n)
			for i := range ids {
				ids[i] = int32(i * 7 % c.NVocab)
			}
			if _, err := s.Eval(context.Background(), ids, false); err != nil {
				t.Fatal(err)
			}
			ps := cfg.PageSize
			pages := (n + ps - 1) / ps
			if got, want := e.Cache.AllocatedBytes(), int64(pages*ps*perToken)*elem; got != want {
				t.Errorf("%s: %d tokens allocate %d bytes of KV, want %d (%d pages)", name, n, got, want, pages)
			}
			if e.Model.KVBytesPerToken(cfg.Type) >= naive {
				t.Errorf("%s: latent cache %d bytes/token is not smaller than naive per-head K/V %d", name, e.Model.KVBytesPerToken(cfg.Type), naive)
			}
			s.Close()
			e.Close()
		}
	}
}

// TestKVBytesV3Shape: DeepSeek-V3's published shape (61 layers, kv_lora_rank
// 512, qk_rope_head_dim 64) caches (512+64)×61 = 35136 values per token,
// 70272 bytes in F16 (DeepSeek-V2 paper Table 1: (d_c + d_h^R)·l).
func TestKVBytesV3Shape(t *testing.T) {
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	kv := []struct {
		k string
		v any
	}{
		{"general.architecture", "deepseek2"},
		{"deepseek2.block_count", uint32(61)},
		{"deepseek2.context_length", uint32(163840)},
		{"deepseek2.embedding_length", uint32(7168)},
		{"deepseek2.feed_forward_length", uint32(18432)},
		{"deepseek2.attention.head_count", uint32(128)},
		{"deepseek2.attention.head_count_kv", uint32(128)},
		{"deepseek2.attention.q_lora_rank", uint32(1536)},
		{"deepseek2.attention.kv_lora_rank", uint32(512)},
		{"deepseek2.attention.key_length", uint32(192)},
		{"deepseek2.attention.value_length", uint32(128)},
		{"deepseek2.rope.dimension_count", uint32(64)},
		{"deepseek2.leading_dense_block_count", uint32(3)},
		{"deepseek2.expert_count", uint32(256)},
		{"deepseek2.expert_used_count", uint32(8)},
		{"deepseek2.expert_shared_count", uint32(1)},
		{"deepseek2.expert_feed_forward_length", uint32(2048)},
		{"deepseek2.expert_gating_func", uint32(2)},
		{"deepseek2.expert_group_count", uint32(8)},
		{"deepseek2.expert_group_used_count", uint32(4)},
		{"deepseek2.vocab_size", uint32(129280)},
	}
	for _, p := range kv {
		if err := w.AddKV(p.k, p.v); err != nil {
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
	c, err := model.ReadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.KVWidth() * c.NLayer * 2; got != 70272 {
		t.Fatalf("V3 KV bytes per token (F16) = %d, want 70272", got)
	}
}
