package quantize

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// mdModel is one "## file" section of models/METADATA.md.
type mdModel struct {
	keys    map[string]string // key -> value text after the type
	tensors []Tensor
}

// readMetadataMD parses METADATA.md: keys ("k = TYPE v") and tensors
// ("name TYPE [d0, d1]") of every model file listed, including the
// ds2-lite-tiny F16/Q6_K/Q8_0 files that are described but not shipped.
func readMetadataMD(t *testing.T) map[string]*mdModel {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(filepath.Join(dir, "models", "METADATA.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	out := map[string]*mdModel{}
	var cur *mdModel
	section := ""
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			cur = &mdModel{keys: map[string]string{}}
			out[strings.TrimPrefix(line, "## ")] = cur
		case strings.HasPrefix(line, "### "):
			section = strings.TrimPrefix(line, "### ")
		case cur == nil || line == "" || strings.HasPrefix(line, "```"):
		case section == "keys":
			k, v, ok := strings.Cut(line, " = ")
			if ok {
				_, val, _ := strings.Cut(v, " ")
				cur.keys[k] = val
			}
		case section == "tensors":
			if tn, ok := parseTensorLine(line); ok {
				cur.tensors = append(cur.tensors, tn)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func parseTensorLine(line string) (Tensor, bool) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return Tensor{}, false
	}
	typ, err := dtype.Parse(f[1])
	if err != nil {
		return Tensor{}, false
	}
	var dims []uint64
	for _, d := range strings.Split(strings.Trim(strings.Join(f[2:], ""), "[]"), ",") {
		n, err := strconv.ParseUint(d, 10, 64)
		if err != nil {
			return Tensor{}, false
		}
		dims = append(dims, n)
	}
	return Tensor{Name: f[0], Type: typ, Dims: dims}, true
}

func (m *mdModel) info(t *testing.T) ModelInfo {
	arch := strings.Trim(m.keys["general.architecture"], "'")
	get := func(k string) int {
		v, ok := m.keys[arch+"."+k]
		if !ok {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("%s: %q", k, v)
		}
		return n
	}
	return ModelInfo{Arch: arch, NLayer: get("block_count"), NEmbd: get("embedding_length"),
		NHead: get("attention.head_count"), NHeadKV: get("attention.head_count_kv"), NExpert: get("expert_count")}
}

// TestPlanMatchesMetadata runs Plan on the F16 tensor list of every family
// and compares each tensor's type and the tensor order with every
// llama-quantize output METADATA.md lists (this covers the 27-layer
// ds2-lite-tiny Q4_K_M, Q4_0, Q6_K and Q8_0 mixes, whose F16 source is not
// shipped).
func TestPlanMatchesMetadata(t *testing.T) {
	md := readMetadataMD(t)
	checked := 0
	for file, want := range md {
		family, typ, ok := strings.Cut(strings.TrimSuffix(file, ".gguf"), "-tiny-")
		if !ok || typ == "F16" {
			continue
		}
		src := md[family+"-tiny-F16.gguf"]
		if src == nil {
			t.Fatalf("%s: no F16 source in METADATA.md", file)
		}
		ft, err := ParseFileType(typ)
		if err != nil {
			t.Fatal(err)
		}
		ts := append([]Tensor(nil), src.tensors...)
		choices, err := Plan(src.info(t), ts, ft, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(choices) != len(want.tensors) {
			t.Fatalf("%s: %d tensors, want %d", file, len(choices), len(want.tensors))
		}
		for i, c := range choices {
			w := want.tensors[i]
			if c.Name != w.Name || c.NewType != w.Type {
				t.Errorf("%s: tensor %d: %s %s, llama-quantize wrote %s %s", file, i, c.Name, c.NewType, w.Name, w.Type)
			}
		}
		if got := strings.Trim(want.keys["general.file_type"], " "); got != strconv.Itoa(int(ft)) {
			t.Errorf("%s: general.file_type %s, want %d", file, got, ft)
		}
		checked++
	}
	if checked < 9 {
		t.Errorf("only %d quantized files checked", checked)
	}
}
