package quant

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
)

// TestQuantizeMatchesLlamaQuantize re-quantizes the F16 fixture models and
// compares with the files `llama-quantize <F16> <out> <TYPE>` wrote (no
// imatrix): for every 2-D/3-D tensor of the quantized file that also exists
// in the F16 file, the F16 data is converted to float32 and quantized to the
// quantized tensor's type, and every block must be bit-identical.
//
// All blocks match. They only do because this package never fuses a*b+c:
// llama-quantize runs ggml-quants.c from ggml-base, which llama.cpp compiles
// without -march=native, hence without FMA. A scratch gcc build of the same
// file with -march=native (so gcc contracts a*b+c into FMA) differs from the
// fixtures in 1711 of the 33794 Q4_K/Q6_K blocks of ds3-tiny-Q4_K_M (427 of
// 8976 for qwen2, 515 of 10768 for llama): the scale searches of make_qkx2_quants and
// make_qx_quants compare float sums whose last bits FMA changes, and a
// different candidate wins. Q8_0 blocks are unaffected either way.
func TestQuantizeMatchesLlamaQuantize(t *testing.T) {
	dir := filepath.Join(fixturesDir(t), "models")
	for _, fam := range []string{"ds3", "qwen2", "llama"} {
		for _, q := range []string{"Q8_0", "Q4_K_M"} {
			t.Run(fam+"-"+q, func(t *testing.T) {
				checkRequantize(t, filepath.Join(dir, fam+"-tiny-F16.gguf"), filepath.Join(dir, fam+"-tiny-"+q+".gguf"))
			})
		}
	}
}

type blockCount struct{ total, same int }

func checkRequantize(t *testing.T, f16Path, qPath string) {
	src, err := gguf.Open(f16Path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	qf, err := gguf.Open(qPath)
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()

	var mu sync.Mutex
	counts := map[dtype.Type]*blockCount{}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	tensors := 0
	for i := range qf.Tensors {
		ti := &qf.Tensors[i]
		si, ok := src.Tensor(ti.Name)
		if !ok || len(ti.Dims) < 2 {
			continue
		}
		tensors++
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			total, same, err := requantizeTensor(src, si, qf, ti)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("%s: %v", ti.Name, err)
				return
			}
			c := counts[ti.Type]
			if c == nil {
				c = &blockCount{}
				counts[ti.Type] = c
			}
			c.total += total
			c.same += same
			if same != total {
				t.Errorf("%s (%v): %d of %d blocks differ from llama-quantize", ti.Name, ti.Type, total-same, total)
			}
		}()
	}
	wg.Wait()
	if tensors == 0 {
		t.Fatal("no tensor to compare")
	}
	var types []string
	for typ, c := range counts {
		types = append(types, fmt.Sprintf("%v %d/%d", typ, c.same, c.total))
	}
	sort.Strings(types)
	t.Logf("%s: %d tensors, bit-identical blocks: %s", filepath.Base(qPath), tensors, strings.Join(types, ", "))
}

// requantizeTensor quantizes the F16-file tensor si to ti's type and returns
// how many of ti's blocks match byte for byte.
func requantizeTensor(src *gguf.File, si *gguf.TensorInfo, qf *gguf.File, ti *gguf.TensorInfo) (total, same int, err error) {
	if fmt.Sprint(si.Dims) != fmt.Sprint(ti.Dims) {
		return 0, 0, fmt.Errorf("shape %v in the F16 file, %v quantized", si.Dims, ti.Dims)
	}
	raw, err := src.TensorData(si)
	if err != nil {
		return 0, 0, err
	}
	want, err := qf.TensorData(ti)
	if err != nil {
		return 0, 0, err
	}
	n := int(si.Dims[0])
	rows := len(want) / (n / ti.Type.BlockSize() * ti.Type.BlockBytes())
	inBytes := len(raw) / rows
	x := make([]float32, n)
	got := make([]byte, len(want)/rows)
	bb := ti.Type.BlockBytes()
	for r := 0; r < rows; r++ {
		if err := Dequantize(si.Type, raw[r*inBytes:(r+1)*inBytes], x); err != nil {
			return 0, 0, err
		}
		if err := Quantize(ti.Type, x, got); err != nil {
			return 0, 0, err
		}
		w := want[r*len(got) : (r+1)*len(got)]
		for b := 0; b < len(got)/bb; b++ {
			total++
			if bytes.Equal(got[b*bb:(b+1)*bb], w[b*bb:(b+1)*bb]) {
				same++
			}
		}
	}
	return total, same, nil
}
