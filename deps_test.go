// Package dseek_test holds repository-wide policy tests.
package dseek_test

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// allowed is the import policy: for each dseek package, the dseek packages it
// may import (go/build/deps_test.go style). It is a statement of policy:
// imports point down the layers of DESIGN.md; do not change this data to fix
// a build — move the code instead.
var allowed = map[string][]string{
	"dtype":             {},
	"internal/mmap":     {},
	"internal/impl":     {},
	"internal/fixtures": {},
	"internal/hugepage": {},
	"quant":             {"dtype"},
	"gguf":              {"dtype", "internal/mmap"},
	"kernels":           {"dtype", "quant", "internal/impl"},
	"kvcache":           {"dtype", "kernels"},
	"model":             {"dtype", "gguf", "kernels", "kvcache"},
	"tokenizer":         {"gguf"},
	"sampler":           {},
	"chat":              {},
	"openai":            {},
	"engine":            {"dtype", "gguf", "internal/hugepage", "kernels", "kvcache", "model", "sampler", "tokenizer"},
	"server":            {"chat", "engine", "openai", "sampler", "tokenizer", "model", "kernels", "dtype"},
	"safetensors":       {"quant", "dtype"},
	"quantize":          {"dtype", "gguf", "quant"},
	"convert":           {"dtype", "gguf", "quant", "quantize", "safetensors", "tokenizer"},
	"synth":             {"dtype", "gguf", "quant", "quantize", "tokenizer"},
	"store":             {},
	"hub":               {"gguf", "quantize", "store"},
	"bench":             {"dtype", "engine", "gguf", "internal/hugepage", "kernels", "model", "quantize"},
	"cmd/dseek":         nil, // the CLI may import anything
}

// stdlibOnly lists packages that may import nothing outside the standard
// library (no third-party modules either).
var stdlibOnly = []string{"dtype", "quant", "sampler", "openai"}

type pkg struct {
	ImportPath string
	Imports    []string
	CgoFiles   []string
	Standard   bool
}

func TestImportPolicy(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "github.com/dseek-ai/dseek/"
	dec := json.NewDecoder(strings.NewReader(string(out)))
	n := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		n++
		name := strings.TrimPrefix(p.ImportPath, mod)
		if p.ImportPath+"/" == mod {
			continue // this test's own package
		}
		if len(p.CgoFiles) > 0 {
			t.Errorf("%s uses cgo (%v): the default build must need no C compiler", name, p.CgoFiles)
		}
		ok, known := allowed[name]
		if !known {
			t.Errorf("package %s is not in the import policy (deps_test.go)", name)
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, mod) {
				dep := strings.TrimPrefix(imp, mod)
				if ok != nil && !slices.Contains(ok, dep) {
					t.Errorf("%s imports %s, which the policy does not allow", name, dep)
				}
				continue
			}
			if slices.Contains(stdlibOnly, name) && strings.Contains(strings.Split(imp, "/")[0], ".") {
				t.Errorf("%s must use only the standard library, but imports %s", name, imp)
			}
		}
	}
	if n < 10 {
		t.Fatalf("go list returned only %d packages", n)
	}
}
