package quant

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
)

// Tests against bytes produced by ggml itself at the fixture commit (see
// testdata/README.md): 21 rows of 512 floats of different shapes, quantized
// by ggml_quantize_chunk, activations quantized by ggml-cpu's x86 from_float,
// dequantized rows (FNV-1a 64 of the float32 bytes) and vec_dot results of
// the scalar and the AVX2 kernels.

const ggmlRows, ggmlCols = 21, 512

func ggmlPath(parts ...string) string {
	return filepath.Join(append([]string{"testdata", "ggml"}, parts...)...)
}

func ggmlInput(t testing.TB) []float32 {
	x := f32s(readFile(t, ggmlPath("input.f32")))
	if len(x) != ggmlRows*ggmlCols {
		t.Fatalf("input.f32 has %d floats, want %d", len(x), ggmlRows*ggmlCols)
	}
	return x
}

// ggmlTable reads "TYPE row hex" lines into map[type][row] = value.
func ggmlTable(t testing.TB, name string) map[string][]uint64 {
	f, err := os.Open(ggmlPath(name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) != 3 {
			t.Fatalf("%s: bad line %q", name, sc.Text())
		}
		r, err1 := strconv.Atoi(fs[1])
		v, err2 := strconv.ParseUint(fs[2], 16, 64)
		if err1 != nil || err2 != nil || r != len(out[fs[0]]) {
			t.Fatalf("%s: bad line %q", name, sc.Text())
		}
		out[fs[0]] = append(out[fs[0]], v)
	}
	return out
}

// quantTypes are the types with a ggml quantized dump.
var quantTypes = []dtype.Type{
	dtype.F16, dtype.BF16, dtype.Q4_0, dtype.Q4_1, dtype.Q5_0, dtype.Q5_1, dtype.Q8_0, dtype.Q8_1, dtype.Q8_K,
	dtype.Q2_K, dtype.Q3_K, dtype.Q4_K, dtype.Q5_K, dtype.Q6_K, dtype.IQ4_NL, dtype.IQ4_XS,
}

// TestQuantizeMatchesGGML: Quantize must write ggml's bytes, block for block.
func TestQuantizeMatchesGGML(t *testing.T) {
	x := ggmlInput(t)
	for _, typ := range quantTypes {
		want := readFile(t, ggmlPath("quant", typ.String()+".bin"))
		got := mustQuant(t, typ, x)
		if len(got) != len(want) {
			t.Fatalf("%v: %d bytes, ggml %d", typ, len(got), len(want))
		}
		bb := typ.BlockBytes()
		bad := 0
		for b := 0; b < len(got)/bb; b++ {
			if !bytes.Equal(got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb]) {
				if bad < 3 {
					row := b * typ.BlockSize() / ggmlCols
					t.Errorf("%v block %d (row %d) differs:\n got %x\nggml %x", typ, b, row, got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb])
				}
				bad++
			}
		}
		t.Logf("%-6v %4d/%4d blocks bit-identical to ggml", typ, len(got)/bb-bad, len(got)/bb)
	}
}

func fnvF32(y []float32) uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, v := range y {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return h.Sum64()
}

// TestDequantizeMatchesGGML: dequantizing ggml's bytes gives ggml's floats
// bit for bit (compared by hash per row).
func TestDequantizeMatchesGGML(t *testing.T) {
	hashes := ggmlTable(t, "dequant.txt")
	checked := 0
	for _, typ := range quantTypes {
		want, ok := hashes[typ.String()]
		if !ok {
			continue
		}
		q := readFile(t, ggmlPath("quant", typ.String()+".bin"))
		rb := len(q) / ggmlRows
		for r := 0; r < ggmlRows; r++ {
			y := mustDequant(t, typ, q[r*rb:(r+1)*rb], ggmlCols)
			if got := fnvF32(y); got != want[r] {
				t.Errorf("%v row %d: dequantized hash %016x, ggml %016x", typ, r, got, want[r])
			}
		}
		checked++
	}
	if checked != 13 { // all but F16, BF16 (tested exhaustively) and Q8_1 (ggml has no dequantizer for it)
		t.Fatalf("checked %d types, want 13", checked)
	}
}

// TestQuantizeActivationsMatchesGGML: the activation quantizers match ggml-cpu's
// x86 from_float (AVX2 build) byte for byte.
func TestQuantizeActivationsMatchesGGML(t *testing.T) {
	x := ggmlInput(t)
	for _, wt := range []dtype.Type{dtype.Q4_0, dtype.Q4_1, dtype.Q4_K} {
		at := VecDotType(wt)
		want := readFile(t, ggmlPath("act", at.String()+".bin"))
		got := mustAct(t, wt, x)
		if !bytes.Equal(got, want) {
			bb := at.BlockBytes()
			for b := 0; b < len(got)/bb; b++ {
				if !bytes.Equal(got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb]) {
					t.Errorf("%v activation block %d differs:\n got %x\nggml %x", at, b, got[b*bb:(b+1)*bb], want[b*bb:(b+1)*bb])
					break
				}
			}
		}
	}
	// The x86 Q8_0 activation path rounds differently from the reference
	// quantizer llama-quantize uses (127/amax and ties-to-even vs 1/d and
	// roundf); the input has blocks where that shows.
	ref := readFile(t, ggmlPath("quant", "Q8_0.bin"))
	if bytes.Equal(ref, readFile(t, ggmlPath("act", "Q8_0.bin"))) {
		t.Error("testdata: Q8_0 reference and x86 activation bytes are identical; the test data no longer distinguishes them")
	}
}

// vecDotCases runs every weight type over the ggml rows: weight row r (ggml's
// quantized bytes) with activation row (r+1)%21 (ggml's x86 activation bytes).
func vecDotCases(t *testing.T, f func(typ dtype.Type, r int, got float32)) {
	for _, typ := range []dtype.Type{dtype.Q4_0, dtype.Q4_1, dtype.Q5_0, dtype.Q5_1, dtype.Q8_0,
		dtype.Q2_K, dtype.Q3_K, dtype.Q4_K, dtype.Q5_K, dtype.Q6_K, dtype.IQ4_NL, dtype.IQ4_XS} {
		w := readFile(t, ggmlPath("quant", typ.String()+".bin"))
		a := readFile(t, ggmlPath("act", VecDotType(typ).String()+".bin"))
		wb, ab := len(w)/ggmlRows, len(a)/ggmlRows
		for r := 0; r < ggmlRows; r++ {
			r2 := (r + 1) % ggmlRows
			got, err := VecDot(typ, ggmlCols, w[r*wb:(r+1)*wb], a[r2*ab:(r2+1)*ab])
			if err != nil {
				t.Fatal(err)
			}
			f(typ, r, got)
		}
	}
}

// TestVecDotMatchesGGMLScalar: VecDot equals ggml's scalar vec_dot bit for bit.
func TestVecDotMatchesGGMLScalar(t *testing.T) {
	want := ggmlTable(t, "vecdot_scalar.txt")
	n := 0
	vecDotCases(t, func(typ dtype.Type, r int, got float32) {
		n++
		if w := math.Float32frombits(uint32(want[typ.String()][r])); math.Float32bits(got) != math.Float32bits(w) {
			t.Errorf("%v row %d: VecDot = %v, ggml scalar %v", typ, r, got, w)
		}
	})
	if n != 12*ggmlRows {
		t.Fatalf("ran %d cases", n)
	}
}

// TestVecDotNearGGMLAVX2: the AVX2 kernels llama.cpp runs on x86 sum in a
// different order (and with FMA), so they agree only to rounding: relative
// to the sum of |products| the difference stays at float32 noise.
func TestVecDotNearGGMLAVX2(t *testing.T) {
	want := ggmlTable(t, "vecdot_avx2.txt")
	x := ggmlInput(t)
	worst := map[dtype.Type]float64{}
	vecDotCases(t, func(typ dtype.Type, r int, got float32) {
		w := float64(math.Float32frombits(uint32(want[typ.String()][r])))
		// scale of the sum: dot of |dequantized weights| with |activations|
		r2 := (r + 1) % ggmlRows
		var mag float64
		for i := 0; i < ggmlCols; i++ {
			mag += math.Abs(float64(x[r*ggmlCols+i])) * math.Abs(float64(x[r2*ggmlCols+i]))
		}
		rel := math.Abs(float64(got)-w) / max(mag, 1e-30)
		worst[typ] = max(worst[typ], rel)
		if rel > 1e-4 {
			t.Errorf("%v row %d: VecDot %v, ggml AVX2 %v (rel %.2g)", typ, r, got, w, rel)
		}
	})
	var s []string
	for _, typ := range []dtype.Type{dtype.Q4_0, dtype.Q8_0, dtype.Q4_K, dtype.Q6_K} {
		s = append(s, fmt.Sprintf("%v %.1e", typ, worst[typ]))
	}
	t.Logf("worst |scalar-AVX2| / sum|x*y|: %s", strings.Join(s, ", "))
}
