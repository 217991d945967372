// Package convert turns a Hugging Face safetensors checkpoint into a GGUF
// file with the tensor names, shapes, types and metadata that llama.cpp's
// convert_hf_to_gguf.py writes (classes DeepseekV2Model, Qwen2Model and
// LlamaModel at llama.cpp c392e50, plus newer llama.cpp's expert-group
// keys and optional MTP "nextn" layers), without Python.
//
// Supported: DeepseekV2ForCausalLM and DeepseekV3ForCausalLM (BF16, and FP8
// E4M3 with 128×128 weight_scale_inv block scales, including UE8M0 power-of-
// two scales), Qwen2ForCausalLM and LlamaForCausalLM (R1-Distill, DeepSeek-
// LLM); single-file and sharded checkpoints. Tensors are streamed row chunk
// by row chunk, so memory use does not grow with the model size.
//
// The MLA layout written is llama.cpp's original one (attn_kv_b whole,
// attention.head_count_kv = head_count), which both dseek and llama.cpp
// load; MTP layers are dropped unless Options.KeepMTP is set.
package convert

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/safetensors"
)

// Options tunes Convert.
type Options struct {
	// Type is the output type of the weight matrices: "f32", "f16", "bf16",
	// "q8_0", or "" / "auto" (F16 if the first tensor of the checkpoint is
	// F16, else BF16, as newer convert_hf_to_gguf.py --outtype auto).
	Type string
	// Name is general.name; "" = the checkpoint directory's base name.
	Name string
	// KeepMTP keeps DeepSeek-V3's multi-token-prediction layers as extra
	// blocks (blk.N.nextn.* and the layer's attention/MoE tensors, with
	// deepseek2.nextn_predict_layers and block_count including them), as
	// newer llama.cpp converters do for MTP models. dseek's engine does not
	// run them.
	KeepMTP bool
	// Threads encodes rows on this many goroutines; 0 = 2.
	Threads int
	// Progress, if set, is called with the source bytes processed so far
	// and their total.
	Progress func(done, total int64)
}

// Result describes a conversion.
type Result struct {
	Arch     string            // GGUF architecture
	FileType quantize.FileType // general.file_type written
	Tensors  int
	InBytes  int64 // source tensor bytes read
	OutBytes int64 // tensor bytes written (without padding)
}

// archOf maps config.json "architectures" to a GGUF architecture.
func archOf(h hparams) (string, error) {
	a, _ := h["architectures"].([]any)
	if len(a) == 0 {
		return "", fmt.Errorf("convert: config.json has no architectures")
	}
	name, _ := a[0].(string)
	switch name {
	case "DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM":
		return "deepseek2", nil
	case "Qwen2ForCausalLM":
		return "qwen2", nil
	case "LlamaForCausalLM":
		return "llama", nil
	}
	return "", fmt.Errorf("convert: architecture %q is not supported (DeepseekV2ForCausalLM, DeepseekV3ForCausalLM, Qwen2ForCausalLM, LlamaForCausalLM are)", name)
}

// fileType resolves Options.Type.
func fileType(s string, m *safetensors.Model) (quantize.FileType, error) {
	switch strings.ToLower(s) {
	case "f32":
		return quantize.AllF32, nil
	case "f16":
		return quantize.MostlyF16, nil
	case "bf16":
		return quantize.MostlyBF16, nil
	case "q8_0":
		return quantize.MostlyQ8_0, nil
	case "", "auto":
		if names := m.Names(); len(names) > 0 {
			if t, _ := m.Tensor(names[0]); t.DType == "F16" {
				return quantize.MostlyF16, nil
			}
		}
		return quantize.MostlyBF16, nil
	}
	return 0, fmt.Errorf("convert: output type %q: want f32, f16, bf16, q8_0 or auto", s)
}

// Convert reads the checkpoint in dir and streams the GGUF to w. Errors: an
// unsupported architecture, tokenizer or tensor, missing config keys or
// files, inconsistent shards, I/O errors, ctx cancelled.
func Convert(ctx context.Context, dir string, w io.Writer, opt Options) (*Result, error) {
	h, err := readHparams(dir)
	if err != nil {
		return nil, err
	}
	arch, err := archOf(h)
	if err != nil {
		return nil, err
	}
	m, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	ft, err := fileType(opt.Type, m)
	if err != nil {
		return nil, err
	}
	p, mtp, err := newPlanner(arch, h, m, ft, opt.KeepMTP)
	if err != nil {
		return nil, err
	}
	if err := p.plan(); err != nil {
		return nil, err
	}
	l, err := metadata(dir, h, arch, ft, p.nLayer, mtp, opt.Name)
	if err != nil {
		return nil, err
	}
	return write(ctx, w, l, p, ft, opt)
}

func newPlanner(arch string, h hparams, m *safetensors.Model, ft quantize.FileType, keepMTP bool) (*planner, int64, error) {
	n, ok := h.firstInt("n_layers", "num_hidden_layers", "n_layer", "num_layers")
	if !ok || n <= 0 {
		return nil, 0, fmt.Errorf("convert: config.json has no num_hidden_layers")
	}
	p := &planner{arch: arch, h: h, m: m, ft: ft, nLayer: n, nBase: n}
	var mtp int64
	if arch == "deepseek2" {
		p.nExpert, _ = h.int("n_routed_experts")
		if keepMTP {
			mtp, _ = h.int("num_nextn_predict_layers")
			p.nLayer += mtp
		}
	}
	if arch == "llama" {
		if rf, err := ropeFreqs(h); err != nil {
			return nil, 0, err
		} else if rf != nil {
			p.out = append(p.out, outTensor{name: "rope_freqs.weight", typ: dtype.F32,
				dims: []uint64{uint64(len(rf))}, gen: rf, rows: 1, rowLen: int64(len(rf))})
		}
	}
	return p, mtp, nil
}

// metadata builds every GGUF key in convert_hf_to_gguf.py's order.
func metadata(dir string, h hparams, arch string, ft quantize.FileType, nLayer, mtp int64, name string) (*kvList, error) {
	if name == "" {
		name = filepath.Base(filepath.Clean(dir))
	}
	l := &kvList{arch: arch}
	l.add("general.architecture", arch)
	l.add("general.type", "model")
	l.add("general.name", name)
	baseKeys(l, h, nLayer, ft)
	switch arch {
	case "deepseek2":
		deepseek2Keys(l, h, mtp)
	case "qwen2":
		qwen2Keys(l, h)
	case "llama":
		llamaKeys(l, h)
	}
	if l.err != nil {
		return nil, l.err
	}
	v, err := readVocab(dir, h)
	if err != nil {
		return nil, err
	}
	if arch == "qwen2" && v.Pre == "qwen2" && v.AddBOS != nil && *v.AddBOS {
		// convert_hf_to_gguf.py tells R1-Distill-Qwen from Qwen2 by the
		// token hash of its check text, which differs only by the BOS.
		v.Pre = "deepseek-r1-qwen"
	}
	vocabKeys(l, v)
	if arch == "llama" {
		if b, ok := addPrefixSpace(dir); ok {
			l.add("tokenizer.ggml.add_space_prefix", b)
		}
	}
	l.add("general.quantization_version", uint32(quantize.QuantVersion))
	return l, nil
}

// write emits header and tensor data.
func write(ctx context.Context, w io.Writer, l *kvList, p *planner, ft quantize.FileType, opt Options) (*Result, error) {
	gw := gguf.NewWriter(w)
	for _, kv := range l.kvs {
		if err := gw.AddKV(kv.key, kv.value); err != nil {
			return nil, err
		}
	}
	res := &Result{Arch: p.arch, FileType: ft, Tensors: len(p.out)}
	for _, o := range p.out {
		if err := gw.AddTensor(o.name, o.typ, o.dims); err != nil {
			return nil, err
		}
		for _, s := range o.srcs {
			res.InBytes += s.t.Size
		}
	}
	if err := gw.WriteHeader(); err != nil {
		return nil, err
	}
	threads := opt.Threads
	if threads <= 0 {
		threads = 2
	}
	var done int64
	for i := range p.out {
		o := &p.out[i]
		n, err := writeTensor(ctx, gw, o, threads, func(b int64) {
			done += b
			if opt.Progress != nil {
				opt.Progress(done, res.InBytes)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("convert: %s: %w", o.name, err)
		}
		res.OutBytes += n
	}
	return res, gw.Close()
}

// ConvertFile converts the checkpoint in dir into the GGUF file out,
// writing a temporary file next to it and renaming it when complete (an
// interrupted run leaves no partial out). Errors: as Convert.
func ConvertFile(ctx context.Context, dir, out string, opt Options) (*Result, error) {
	if st, err := os.Stat(out); err == nil {
		if st.IsDir() {
			// Found only at the final rename otherwise, after all the work.
			return nil, fmt.Errorf("convert: output %s is a directory", out)
		}
		// The rename would replace a file of the checkpoint being read.
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if fi, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && os.SameFile(fi, st) {
				return nil, fmt.Errorf("convert: output %s is %s of the checkpoint; write to another path", out, e.Name())
			}
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-*")
	if err != nil {
		return nil, createError(out, err)
	}
	defer os.Remove(tmp.Name())
	res, err := Convert(ctx, dir, tmp, opt)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		// CreateTemp makes the file 0600; a model file is readable by all
		// (other users, a server account), as llama.cpp's outputs are.
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return res, os.Rename(tmp.Name(), out)
}

// createError describes a failure to create the temporary file next to
// out by out itself: "open /nonexistent/.x.gguf.tmp-770493535: no such file
// or directory" named a file the user never asked for.
func createError(out string, err error) error {
	dir := filepath.Dir(out)
	if st, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
		return fmt.Errorf("convert: cannot create %s: directory %s does not exist", out, dir)
	} else if serr == nil && !st.IsDir() {
		return fmt.Errorf("convert: cannot create %s: %s is not a directory", out, dir)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("convert: cannot create %s: %w", out, err)
}

// ropeFreqs is LlamaModel.generate_extra_tensors: llama3 rope scaling
// factors per frequency pair, or nil without llama3 rope scaling.
func ropeFreqs(h hparams) ([]float32, error) {
	rs := h.sub("rope_scaling")
	if t, _ := rs.str("rope_type"); !strings.EqualFold(t, "llama3") {
		return nil, nil
	}
	base := 10000.0
	if b, ok := h.float("rope_theta"); ok {
		base = b
	}
	hid, _ := h.int("hidden_size")
	nh, _ := h.int("num_attention_heads")
	dim, ok := h.int("head_dim")
	if !ok {
		if nh <= 0 {
			return nil, fmt.Errorf("convert: num_attention_heads must be positive")
		}
		dim = hid / nh
	}
	get := func(k string, d float64) float64 {
		if v, ok := rs.float(k); ok {
			return v
		}
		return d
	}
	factor, low, high := float32(get("factor", 8)), float32(get("low_freq_factor", 1)), float32(get("high_freq_factor", 4))
	old := float32(8192) // LlamaModel reads the top-level key, not rope_scaling's
	if v, ok := h.float("original_max_position_embeddings"); ok {
		old = float32(v)
	}
	if low == high {
		return nil, fmt.Errorf("convert: llama3 rope scaling with low_freq_factor == high_freq_factor")
	}
	lowWave, highWave := old/low, old/high
	var out []float32
	for i := int64(0); i < dim; i += 2 {
		freq := 1 / float32(math.Pow(base, float64(float32(i)/float32(dim))))
		wave := float32(2*math.Pi) / freq
		switch {
		case wave < highWave:
			out = append(out, 1)
		case wave > lowWave:
			out = append(out, factor)
		default:
			smooth := (old/wave - low) / (high - low)
			out = append(out, 1/((1-smooth)/factor+smooth))
		}
	}
	return out, nil
}
