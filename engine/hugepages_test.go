package engine

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestHugePagesSameLogits: copying the weights into the huge-page arena
// must not change a single bit of the logits (prefill of every position and
// a decode step) on every fixture model, must copy exactly the multiplied
// weights (not a gathered-only token_embd), and HugePagesOff must copy
// nothing.
func TestHugePagesSameLogits(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(fixtures.MustDir(t), "models", "*.gguf"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixture models (%v)", err)
	}
	// A tied-embeddings twin (no output.weight: token_embd is the output
	// head and must be copied too), as Qwen2.5-1.5B ships.
	tied := filepath.Join(t.TempDir(), "qwen2-tiny-Q8_0-tied.gguf")
	writeWithout(t, filepath.Join(fixtures.MustDir(t), "models", "qwen2-tiny-Q8_0.gguf"), tied, "output.weight")
	paths = append(paths, tied)
	prompt := []int32{1, 72, 101, 259, 400, 999, 17, 23}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var logits [2][]float32
			for i, mode := range []HugePages{HugePagesOff, HugePagesOn} {
				e, err := Load(context.Background(), path, Options{Threads: 2, CtxSize: 64, HugePages: mode})
				if err != nil {
					t.Fatal(err)
				}
				n, _ := e.HugePageWeights()
				want := int64(0)
				if mode == HugePagesOn {
					want = matrixBytes(e.File)
				}
				// The arena pads each copy to 64 bytes; the last copy's
				// padding is not counted.
				if n > want || n <= want-64 && !(want == 0 && n == 0) {
					t.Errorf("%v: %d bytes copied, want the %d bytes of the multiplied weights (64-byte padded)", mode, n, want)
				}
				s := e.NewSequence()
				pre, err := s.Eval(context.Background(), prompt, true)
				if err != nil {
					t.Fatal(err)
				}
				pre = append([]float32(nil), pre...)
				dec, err := s.Eval(context.Background(), []int32{5}, true)
				if err != nil {
					t.Fatal(err)
				}
				logits[i] = append(pre, dec...)
				s.Close()
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if len(logits[0]) != len(logits[1]) {
				t.Fatalf("%d logits with huge pages, %d without", len(logits[1]), len(logits[0]))
			}
			for i := range logits[0] {
				if math.Float32bits(logits[0][i]) != math.Float32bits(logits[1][i]) {
					t.Fatalf("logit %d: %v with huge pages, %v without", i, logits[1][i], logits[0][i])
				}
			}
		})
	}
}

// writeWithout copies the GGUF at src to dst without the tensor named drop.
func writeWithout(t *testing.T, src, dst, drop string) {
	rewrite(t, src, dst, nil, func(ti *gguf.TensorInfo, data []byte) (dtype.Type, []byte) {
		if ti.Name == drop {
			return ti.Type, nil
		}
		return ti.Type, data
	})
}

// matrixBytes is what a HugePagesOn load should copy, computed independently
// of copiedWeightBytes: the 2-D and 3-D tensors the forward pass multiplies
// with, each padded to 64 bytes; token_embd only when there is no
// output.weight (tied embeddings make it the output head).
func matrixBytes(f *gguf.File) int64 {
	var n int64
	_, tied := f.Tensor("output.weight")
	tied = !tied
	for _, t := range f.Tensors {
		dims := 0
		for _, d := range t.Dims {
			if d > 1 {
				dims++
			}
		}
		if dims < 2 || t.Name == "token_embd.weight" && !tied {
			continue
		}
		n += (t.Size + 63) / 64 * 64
	}
	return n
}

// TestParseHugePages: the --hugepages spellings and a clear error for
// others.
func TestParseHugePages(t *testing.T) {
	for s, want := range map[string]HugePages{"auto": HugePagesAuto, "on": HugePagesOn, "ON": HugePagesOn, "off": HugePagesOff, "Off": HugePagesOff} {
		got, err := ParseHugePages(s)
		if err != nil || got != want {
			t.Errorf("ParseHugePages(%q) = %v, %v; want %v", s, got, err, want)
		}
		if s == "auto" || s == "on" || s == "off" {
			if got.String() != s {
				t.Errorf("%v.String() = %q, want %q", got, got.String(), s)
			}
		}
	}
	for _, bad := range []string{"", "yes please", "true", "1"} {
		if _, err := ParseHugePages(bad); err == nil {
			t.Errorf("ParseHugePages(%q) succeeded", bad)
		}
	}
}

// cancelAfter is a context whose Err turns to context.Canceled after n calls.
type cancelAfter struct {
	context.Context
	n int
}

func (c *cancelAfter) Err() error {
	if c.n--; c.n < 0 {
		return context.Canceled
	}
	return nil
}

// TestHugePagesCopyCancelled: a context cancelled while the weights are
// being copied (Ctrl-C during a long load) stops the load with
// context.Canceled instead of finishing the copy.
func TestHugePagesCopyCancelled(t *testing.T) {
	path := filepath.Join(fixtures.MustDir(t), "models", "ds3-tiny-Q8_0.gguf")
	ctx := &cancelAfter{Context: context.Background(), n: 4}
	e, err := Load(ctx, path, Options{Threads: 1, CtxSize: 64, HugePages: HugePagesOn})
	if err == nil {
		e.Close()
		t.Fatal("Load finished although its context was cancelled during the copy")
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Load: %v, want context.Canceled", err)
	}
	if ctx.n >= 0 {
		t.Fatalf("context checked %d times fewer than expected: the copy did not consult it", ctx.n+1)
	}
}
