package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/store"
)

// TestConvertQuantizeCommands: `dseek convert` of a dsref checkpoint, then
// `dseek quantize` of the result to Q8_0; the output is read back and every
// weight matrix must be Q8_0 (or F32 where llama-quantize keeps F32).
func TestConvertQuantizeCommands(t *testing.T) {
	dir := t.TempDir()
	f16 := filepath.Join(dir, "m-f16.gguf")
	out, err := dseek(t, "", "convert", fixture(t, "dsref/hf/dsv2-lite-tiny-bf16"), "-o", f16, "--type", "f16")
	if err != nil {
		t.Fatalf("convert: %v\n%s", err, out)
	}
	q8 := filepath.Join(dir, "m-q8.gguf")
	if out, err = dseek(t, "", "quantize", f16, q8, "q8_0"); err != nil {
		t.Fatalf("quantize: %v\n%s", err, out)
	}
	f, err := gguf.Open(q8)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ft, _ := f.Uint("general.file_type"); ft != 7 {
		t.Errorf("general.file_type %d, want 7", ft)
	}
	for _, ti := range f.Tensors {
		want := dtype.Q8_0
		if len(ti.Dims) == 1 || strings.Contains(ti.Name, "ffn_gate_inp") {
			want = dtype.F32
		}
		if ti.Type != want {
			t.Errorf("%s: %s, want %s", ti.Name, ti.Type, want)
		}
	}
	if _, err := dseek(t, "", "quantize", f16, q8, "q9_z"); err == nil {
		t.Error("unknown type accepted")
	}
	if _, err := dseek(t, "", "convert", dir, "-o", filepath.Join(dir, "x.gguf")); err == nil {
		t.Error("convert of a directory without a checkpoint succeeded")
	}
}

func TestStoreCommands(t *testing.T) {
	dir := t.TempDir()
	out, err := dseek(t, "", "list", "--models-dir", dir)
	if err != nil || !strings.Contains(out, "NAME") {
		t.Fatalf("list: %v %q", err, out)
	}
	if _, err := dseek(t, "", "rm", "--models-dir", dir, "deepseek-r1:1.5b"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("rm of a missing model: %v", err)
	}
	if out, err := dseek(t, "", "pull", "--aliases"); err != nil || !strings.Contains(out, "deepseek-r1:1.5b") {
		t.Errorf("pull --aliases: %v %q", err, out)
	}
	if _, err := dseek(t, "", "pull", "--models-dir", dir, "no-such-model:1b"); err == nil || !strings.Contains(err.Error(), "unknown model") {
		t.Errorf("unknown alias: %v", err)
	}
}

// TestStoreReadOnlyCommands: list, rm and model-name resolution on a store
// directory that does not exist (a mistyped --models-dir or $DSEEK_MODELS)
// print an empty listing or say the model is not there, and create
// nothing; they used to create files/, tmp/, manifests/, locks/ and .lock
// at any path. An empty store lists as [] in JSON, not null.
func TestStoreReadOnlyCommands(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo", "models")
	empty := t.TempDir()
	for _, dir := range []string{missing, empty} {
		out, err := dseek(t, "", "list", "--models-dir", dir)
		if err != nil || strings.TrimSpace(out) != "NAME  SIZE  QUANT  ARCH  MODIFIED" {
			t.Errorf("list %s: %v %q", dir, err, out)
		}
		out, err = dseek(t, "", "list", "--json", "--models-dir", dir)
		if err != nil || strings.TrimSpace(out) != "[]" {
			t.Errorf("list --json %s: %v %q, want []", dir, err, out)
		}
		_, err = dseek(t, "", "rm", "--models-dir", dir, "x")
		if err == nil || !strings.Contains(err.Error(), "not in the store") {
			t.Errorf("rm x from %s: %v", dir, err)
		}
	}
	t.Setenv(store.EnvModels, missing)
	for _, args := range [][]string{{"show", "deepseek-r1:1.5b"}, {"run", "deepseek-r1:1.5b", "-p", "x"},
		{"tokenize", "-m", "deepseek-r1:1.5b", "x"}, {"list"}, {"rm", "deepseek-r1:1.5b"}} {
		if _, err := dseek(t, "", args...); args[0] != "list" && (err == nil || !strings.Contains(err.Error(), "not")) {
			t.Errorf("%v: %v, want a not-found error", args, err)
		}
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("a read-only command created %s (%v)", filepath.Dir(missing), err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("list/rm wrote %d entries into an empty store directory (%s, ...)", len(ents), ents[0].Name())
	}
}
