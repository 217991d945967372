package engine

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/hugepage"
	"github.com/dseek-ai/dseek/model"
)

// HugePages selects whether the weights the forward pass multiplies with are
// copied out of the memory-mapped file into one anonymous region advised for
// transparent huge pages (see package internal/hugepage). Decode reads every
// such weight once per token; on 2 MiB pages it takes fewer TLB misses and
// the hardware prefetchers run across what would be 4 KiB page boundaries
// (+10% decode tokens/s on r1-distill-qwen-1.5b Q4_K_M on the 2-core
// development machine). The cost: loading copies the weights (about a second
// per few GB from the page cache), and the copy is private to the process,
// where a mapping shares the page cache with other processes.
type HugePages int

const (
	// HugePagesAuto copies when Linux has THP enabled ("always" or
	// "madvise") and the weights fit in MemAvailable with 1 GiB to spare;
	// otherwise the file stays mapped.
	HugePagesAuto HugePages = iota
	// HugePagesOn always copies (heap memory where THP does not exist);
	// failing to reserve the memory is an error.
	HugePagesOn
	// HugePagesOff keeps the weights in the file mapping (llama.cpp's
	// default), or in heap buffers with Options.NoMmap.
	HugePagesOff
)

// ParseHugePages parses "auto", "on" or "off" in any letter case (the
// --hugepages flag). Anything else is an error naming the flag.
func ParseHugePages(s string) (HugePages, error) {
	switch strings.ToLower(s) {
	case "auto":
		return HugePagesAuto, nil
	case "on":
		return HugePagesOn, nil
	case "off":
		return HugePagesOff, nil
	}
	return HugePagesAuto, fmt.Errorf("--hugepages %q: want auto, on or off", s)
}

// String is the flag spelling of h.
func (h HugePages) String() string {
	switch h {
	case HugePagesOn:
		return "on"
	case HugePagesOff:
		return "off"
	}
	return "auto"
}

// autoSpare is the memory HugePagesAuto leaves free beyond the copied
// weights: KV cache, activations and the rest of the system.
const autoSpare = 1 << 30

// loadWeights binds the model, copying its multiplied weights into a
// huge-page arena when opt.HugePages asks for it (see HugePages). Under
// HugePagesAuto a copy that fails (the arena is short, a read error) falls
// back to the file mapping instead of failing the load; a cancelled ctx
// stops the copy at the next tensor and is returned as is.
func loadWeights(ctx context.Context, f *gguf.File, cfg *model.Config, opt Options) (*model.Model, *hugepage.Arena, error) {
	mopt := model.Options{Precision: opt.Precision, RouterHook: opt.RouterHook}
	arena, err := weightArena(f, cfg, opt.HugePages)
	if err != nil {
		return nil, nil, err
	}
	if arena == nil {
		m, err := model.Load(f, mopt)
		return m, nil, err
	}
	debug.FreeOSMemory() // the tokenizer's garbage, before the weights become resident
	mopt.WeightAlloc = func(n int) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return arena.Alloc(n)
	}
	m, err := model.Load(f, mopt)
	if err == nil {
		return m, arena, nil
	}
	arena.Close()
	if opt.HugePages != HugePagesAuto || ctx.Err() != nil {
		return nil, nil, err
	}
	mopt.WeightAlloc = nil
	m, err = model.Load(f, mopt)
	return m, nil, err
}

// weightArena reserves the arena the model's matrices are copied into, or
// returns nil when mode (after resolving auto) keeps them in the file.
func weightArena(f *gguf.File, cfg *model.Config, mode HugePages) (*hugepage.Arena, error) {
	if mode == HugePagesOff {
		return nil, nil
	}
	need := copiedWeightBytes(f, cfg)
	if need == 0 {
		return nil, nil
	}
	if mode == HugePagesAuto {
		if !hugepage.Enabled() {
			return nil, nil
		}
		if avail, ok := hugepage.MemAvailable(); !ok || need+autoSpare > avail {
			return nil, nil
		}
	}
	a, err := hugepage.New(need)
	if err != nil {
		if mode == HugePagesAuto {
			return nil, nil
		}
		return nil, fmt.Errorf("--hugepages on: %w", err)
	}
	return a, nil
}

// copiedWeightBytes is an upper bound of what model.Load copies with
// WeightAlloc: every tensor except a token_embd.weight that is only
// gathered and the MTP layers' tensors (not bound), each padded to 64
// bytes. 1-D tensors (norms, copied only if bound as one-row matrices) are
// counted too: the few KiB they add keep the bound safe.
func copiedWeightBytes(f *gguf.File, cfg *model.Config) int64 {
	_, hasOutput := f.Tensor("output.weight")
	var n int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if (hasOutput && t.Name == "token_embd.weight") || cfg.IsMTPTensor(t.Name) {
			continue
		}
		n += (t.Size + 63) &^ 63
	}
	return n
}

// HugePageWeights reports the bytes of the huge-page arena holding copied
// weights, 64-byte alignment padding included (0 when they stay in the
// file) and whether the arena was advised for
// transparent huge pages (false on systems without THP, where it is heap
// memory).
func (e *Engine) HugePageWeights() (bytes int64, huge bool) {
	if e.arena == nil {
		return 0, false
	}
	return e.arena.Used(), e.arena.Huge()
}
