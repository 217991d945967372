package quantize

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quant"
)

// GGUF keys llama-quantize rewrites.
const (
	keyFileType     = "general.file_type"
	keyQuantVersion = "general.quantization_version"
	// QuantVersion is GGML_QNT_VERSION, written to general.quantization_version.
	QuantVersion = 2
)

// Options tunes Write and File.
type Options struct {
	Threads int  // worker goroutines for re-encoding; 0 = number of CPUs
	Pure    bool // llama-quantize --pure: no per-tensor mix rules
	// AllowRequantize re-encodes tensors that are already quantized
	// (llama-quantize --allow-requantize); otherwise that is an error.
	AllowRequantize bool
	// Progress, if set, is called after every chunk with the input tensor
	// bytes processed so far and their total.
	Progress func(done, total int64)
	// mapped: the input's tensor data are views into a file mapping whose
	// consumed pages may be dropped (set by File).
	mapped bool
}

// Result summarises a quantization.
type Result struct {
	Choices   []Choice // per tensor, in output order
	InBytes   int64    // tensor data read
	OutBytes  int64    // tensor data written (without padding)
	Fallbacks int      // tensors that got a fallback type
}

// InfoFromGGUF reads the ModelInfo of an opened model from its metadata.
// Errors: general.architecture or <arch>.block_count missing.
func InfoFromGGUF(f *gguf.File) (ModelInfo, error) {
	arch := f.Architecture()
	if arch == "" {
		return ModelInfo{}, errors.New("quantize: the model has no general.architecture")
	}
	nl, err := f.Uint(arch + ".block_count")
	if err != nil {
		return ModelInfo{}, fmt.Errorf("quantize: %w", err)
	}
	m := ModelInfo{Arch: arch, NLayer: int(nl)}
	get := func(key string) int {
		if u, err := f.Uint(arch + "." + key); err == nil {
			return int(u)
		}
		return 0
	}
	m.NEmbd, m.NHead, m.NHeadKV, m.NExpert = get("embedding_length"), get("attention.head_count"), get("attention.head_count_kv"), get("expert_count")
	return m, nil
}

// Write quantizes the model in to file type ft and streams the new GGUF to
// w: metadata copied (split keys dropped, general.quantization_version and
// general.file_type re-set at the end), tensors in llama.cpp's order with
// the types Plan chooses, bytes as quant.Quantize encodes them (identical to
// llama-quantize without an importance matrix). Memory use is bounded by a
// few row chunks, not by the tensor size. Errors: those of Plan, a source
// tensor that is quantized without AllowRequantize or of an unsupported
// type, cancellation of ctx, I/O errors.
func Write(ctx context.Context, in *gguf.File, w io.Writer, ft FileType, opt Options) (*Result, error) {
	info, err := InfoFromGGUF(in)
	if err != nil {
		return nil, err
	}
	ts := make([]Tensor, len(in.Tensors))
	for i, t := range in.Tensors {
		ts[i] = Tensor{Name: t.Name, Type: t.Type, Dims: t.Dims}
	}
	choices, err := Plan(info, ts, ft, PlanOptions{Pure: opt.Pure})
	if err != nil {
		return nil, err
	}
	gw := gguf.NewWriter(w)
	if err := copyKVs(gw, in, ft); err != nil {
		return nil, err
	}
	res := &Result{Choices: choices}
	for _, c := range choices {
		if err := checkChoice(c, opt); err != nil {
			return nil, err
		}
		if err := gw.AddTensor(c.Name, c.NewType, c.Dims); err != nil {
			return nil, err
		}
		src, _ := in.Tensor(c.Name)
		res.InBytes += src.Size
		if c.Fallback {
			res.Fallbacks++
		}
	}
	if err := gw.WriteHeader(); err != nil {
		return nil, err
	}
	p := &progress{fn: opt.Progress, total: res.InBytes}
	threads := opt.Threads
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	for _, c := range choices {
		n, err := writeTensor(ctx, gw, in, c, threads, p, opt.mapped)
		if err != nil {
			return nil, fmt.Errorf("quantize: tensor %s: %w", c.Name, err)
		}
		res.OutBytes += n
	}
	return res, gw.Close()
}

func checkChoice(c Choice, opt Options) error {
	if !c.Convert {
		return nil
	}
	if c.Type.IsQuantized() && !opt.AllowRequantize {
		return fmt.Errorf("quantize: tensor %s is already %s; requantizing loses precision (allow it explicitly)", c.Name, c.Type)
	}
	for _, t := range []dtype.Type{c.Type, c.NewType} {
		if _, err := t.RowBytes(0); err != nil || !(quant.Supported(t) || t == dtype.F32) {
			return fmt.Errorf("quantize: tensor %s: type %s is not supported by dseek", c.Name, t)
		}
	}
	if c.Dims[0]%uint64(c.NewType.BlockSize()) != 0 {
		return fmt.Errorf("quantize: tensor %s: rows of %d elements cannot be stored as %s", c.Name, c.Dims[0], c.NewType)
	}
	return nil
}

// copyKVs copies the metadata as llama-quantize does (gguf_set_kv, then
// gguf_set_val_u32 of quantization_version and file_type, which move those
// keys to the end, and the split keys removed).
func copyKVs(gw *gguf.Writer, in *gguf.File, ft FileType) error {
	for _, kv := range in.KVs {
		switch kv.Key {
		case keyFileType, keyQuantVersion, gguf.KeySplitNo, gguf.KeySplitCount, gguf.KeySplitTensorsCount:
			continue
		}
		if err := gw.AddKV(kv.Key, kv.Value); err != nil {
			return err
		}
	}
	if err := gw.AddKV(keyQuantVersion, uint32(QuantVersion)); err != nil {
		return err
	}
	return gw.AddKV(keyFileType, uint32(ft))
}

// progress accumulates processed input bytes.
type progress struct {
	fn          func(done, total int64)
	done, total int64
}

func (p *progress) add(n int64) {
	p.done += n
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// writeTensor streams one tensor's new bytes into gw and returns their count.
func writeTensor(ctx context.Context, gw *gguf.Writer, in *gguf.File, c Choice, threads int, p *progress, mapped bool) (int64, error) {
	src, ok := in.Tensor(c.Name)
	if !ok {
		return 0, errors.New("tensor vanished")
	}
	data, err := in.TensorData(src)
	if err != nil {
		return 0, err
	}
	if mapped {
		defer dropPages(data)
	}
	if !c.Convert {
		if err := gw.WriteTensorFrom(c.Name, bytes.NewReader(data)); err != nil {
			return 0, err
		}
		p.add(int64(len(data)))
		return int64(len(data)), nil
	}
	inRow, _ := c.Type.RowBytes(int64(c.Dims[0]))
	info := gguf.TensorInfo{Dims: c.Dims}
	rows := info.Rows()
	if int64(len(data)) != inRow*rows {
		return 0, fmt.Errorf("source holds %d bytes, want %d", len(data), inRow*rows)
	}
	n := int64(c.Dims[0])
	fill := func(lo, hi int64, dst []float32) error {
		for i := lo; i < hi; i++ {
			if err := quant.Dequantize(c.Type, data[i*inRow:(i+1)*inRow], dst[(i-lo)*n:(i-lo+1)*n]); err != nil {
				return err
			}
		}
		return nil
	}
	var done int64
	r, err := NewRowReader(ctx, c.NewType, int64(c.Dims[0]), rows, threads, fill, func(n int64) {
		if mapped {
			dropPages(data[done*inRow : (done+n)*inRow])
		}
		done += n
		p.add(n * inRow)
	})
	if err != nil {
		return 0, err
	}
	if err := gw.WriteTensorFrom(c.Name, r); err != nil {
		return 0, err
	}
	return r.Size(), nil
}

// File quantizes the GGUF model at inPath (part 1 of a split model works
// too) into a single file at outPath. The output is written to a temporary
// file in the same directory and renamed into place only when complete, so
// an interrupted run never leaves a partial outPath. Errors: as Write,
// plus opening/creating the files.
func File(ctx context.Context, inPath, outPath string, ft FileType, opt Options) (*Result, error) {
	if err := checkOutPath(inPath, outPath); err != nil {
		return nil, err
	}
	in, err := gguf.Open(inPath)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(outPath), "."+filepath.Base(outPath)+".tmp-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	opt.mapped = true
	res, err := Write(ctx, in, tmp, ft, opt)
	if err == nil {
		err = tmp.Sync()
	}
	if err == nil {
		// CreateTemp makes the file 0600; a model file is readable by all
		// (other users, a server account), as llama-quantize's outputs are.
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return res, os.Rename(tmp.Name(), outPath)
}

// checkOutPath refuses an output path that is a directory (found only at the
// final rename otherwise, after all the work) or that is the input file or
// one of its split parts: the rename would replace the source model with
// its own quantization.
func checkOutPath(inPath, outPath string) error {
	ost, err := os.Stat(outPath)
	if err != nil {
		return nil // a new file
	}
	if ost.IsDir() {
		return fmt.Errorf("quantize: output %s is a directory", outPath)
	}
	ins := []string{inPath}
	if prefix, _, count, ok := gguf.ParseSplitPath(inPath); ok {
		for i := range count {
			ins = append(ins, gguf.SplitPath(prefix, i, count))
		}
	}
	for _, p := range ins {
		if ist, err := os.Stat(p); err == nil && os.SameFile(ist, ost) {
			return fmt.Errorf("quantize: output %s is the input file %s; write to another path", outPath, p)
		}
	}
	return nil
}
