package engine

import (
	"fmt"
	"strings"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/internal/hugepage"
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

// weightArena reserves the arena the model's matrices are copied into, or
// returns nil when mode (after resolving auto) keeps them in the file.
func weightArena(f *gguf.File, mode HugePages) (*hugepage.Arena, error) {
	if mode == HugePagesOff {
		return nil, nil
	}
	need := copiedWeightBytes(f)
	if need == 0 {
		return nil, nil
	}
	if mode == HugePagesAuto {
		if m := hugepage.THP(); m != "always" && m != "madvise" {
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
// WeightAlloc: every tensor of two or more dimensions except a
// token_embd.weight that is only gathered, each padded to 64 bytes.
func copiedWeightBytes(f *gguf.File) int64 {
	_, hasOutput := f.Tensor("output.weight")
	var n int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if len(t.Dims) < 2 || (hasOutput && t.Name == "token_embd.weight") {
			continue
		}
		n += (t.Size + 63) &^ 63
	}
	return n
}

// HugePageWeights reports the bytes of weights copied into the huge-page
// arena (0 when they stay in the file) and whether the arena was advised for
// transparent huge pages (false on systems without THP, where it is heap
// memory).
func (e *Engine) HugePageWeights() (bytes int64, huge bool) {
	if e.arena == nil {
		return 0, false
	}
	return e.arena.Used(), e.arena.Huge()
}
