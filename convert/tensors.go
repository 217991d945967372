package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/safetensors"
)

// writeTensor streams one output tensor into gw; progress gets source
// bytes. It returns the bytes written.
func writeTensor(ctx context.Context, gw *gguf.Writer, o *outTensor, threads int, progress func(int64)) (int64, error) {
	if o.gen != nil {
		b := make([]byte, 0, 4*len(o.gen))
		for _, v := range o.gen {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		return int64(len(b)), gw.WriteTensorFrom(o.name, bytes.NewReader(b))
	}
	scales, err := loadScales(o)
	if err != nil {
		return 0, err
	}
	total := o.rows * int64(len(o.srcs))
	fill := func(lo, hi int64, dst []float32) error {
		return o.fillRows(lo, hi, dst, scales)
	}
	srcRow := o.srcs[0].t.Size / o.rows
	r, err := quantize.NewRowReader(ctx, o.typ, o.rowLen, total, threads, fill, func(n int64) { progress(n * srcRow) })
	if err != nil {
		return 0, err
	}
	if err := gw.WriteTensorFrom(o.name, r); err != nil {
		return 0, err
	}
	return r.Size(), nil
}

// loadScales reads the FP8 block scales of every source (nil entries for
// sources without). The block size comes from the scale tensor's shape
// when it is not 128×128 (quantization_config.weight_block_size).
func loadScales(o *outTensor) ([]*safetensors.BlockScales, error) {
	out := make([]*safetensors.BlockScales, len(o.srcs))
	for i, s := range o.srcs {
		if s.scales == nil {
			continue
		}
		if len(s.t.Shape) != 2 {
			return nil, fmt.Errorf("FP8 weight %s has %d dimensions, want 2", s.t.Name, len(s.t.Shape))
		}
		rows, cols := s.t.Shape[0], s.t.Shape[1]
		b0, b1 := blockSize(rows, cols, s.scales.Shape)
		bs, err := safetensors.ReadBlockScales(s.scales, rows, cols, b0, b1)
		if err != nil {
			return nil, err
		}
		// A NaN or infinite scale used to turn its whole block into NaN
		// weights in the output without a word.
		sc := (cols + b1 - 1) / b1
		for j, v := range bs.V {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("convert: %s: block [%d, %d] has scale %v (weight %s): the checkpoint is damaged",
					s.scales.Name, int64(j)/sc, int64(j)%sc, v, s.t.Name)
			}
		}
		out[i] = bs
	}
	return out, nil
}

// blockSize infers the FP8 tile size from the scale shape: 128 when it
// fits (DeepSeek-V3), else the smallest power of two that gives the shape
// (V4.1's 32×32 blocks).
func blockSize(rows, cols int64, sshape []int64) (int64, int64) {
	pick := func(n, s int64) int64 {
		if s <= 0 {
			return 128
		}
		if (n+127)/128 == s {
			return 128
		}
		for b := int64(1); b <= n; b *= 2 {
			if (n+b-1)/b == s {
				return b
			}
		}
		return 128
	}
	if len(sshape) != 2 {
		return 128, 128
	}
	return pick(rows, sshape[0]), pick(cols, sshape[1])
}

// fillRows decodes output rows [lo, hi) to float32: runs of rows of one
// source are read with one ReadAt, then FP8 block dequantization or a
// plain dtype conversion; permuted tensors (llama q/k) row by row.
func (o *outTensor) fillRows(lo, hi int64, dst []float32, scales []*safetensors.BlockScales) error {
	for lo < hi {
		e, r := lo/o.rows, lo%o.rows
		n := min(hi-lo, o.rows-r)
		if o.permute > 0 {
			n = 1
		}
		if err := o.fillRun(e, r, n, dst[:n*o.rowLen], scales[e]); err != nil {
			return err
		}
		dst, lo = dst[n*o.rowLen:], lo+n
	}
	return nil
}

// fillRun decodes n consecutive rows of source e starting at row r.
func (o *outTensor) fillRun(e, r, n int64, dst []float32, sc *safetensors.BlockScales) error {
	src := o.srcs[e]
	if o.permute > 0 && !o.permute1 {
		r = permSrc(r, o.rows, o.permute)
	}
	es, _ := safetensors.ElementSize(src.t.DType)
	rowBytes := o.rowLen * int64(es)
	raw := make([]byte, n*rowBytes)
	if err := src.t.ReadAt(raw, r*rowBytes); err != nil {
		return err
	}
	var err error
	if sc != nil {
		for i := range n {
			row := dst[i*o.rowLen : (i+1)*o.rowLen]
			if err = sc.DequantRow(r+i, raw[i*rowBytes:(i+1)*rowBytes], row); err != nil {
				return err
			}
			// E4M3 has NaN codes (0x7f, 0xff), and a finite scale times
			// 448 can overflow: either would be written as is.
			for j, v := range row {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return fmt.Errorf("convert: %s: element [%d, %d] dequantizes to %v (FP8 byte %#02x, block scale %v): the checkpoint is damaged",
						src.t.Name, r+i, j, v, raw[i*rowBytes+int64(j)], sc.V[((r+i)/sc.B0)*((sc.Cols+sc.B1-1)/sc.B1)+int64(j)/sc.B1])
				}
			}
		}
	} else if err = safetensors.ToFloat32(src.t.DType, raw, dst); err != nil {
		return err
	}
	if !o.permute1 {
		return nil
	}
	tmp := append([]float32(nil), dst...)
	for i := range dst {
		dst[i] = tmp[permSrc(int64(i), int64(len(dst)), o.permute)]
	}
	return nil
}
