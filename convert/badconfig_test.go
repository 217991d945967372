package convert

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkpointCopy copies the dsv2-lite-tiny checkpoint to a temporary
// directory with edit applied to its config.json.
func checkpointCopy(t *testing.T, edit func(map[string]any)) string {
	t.Helper()
	src := filepath.Join(mustFixtures(t), "dsref", "hf", "dsv2-lite-tiny-bf16")
	dir := t.TempDir()
	for _, n := range []string{"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if n == "config.json" && edit != nil {
			var c map[string]any
			if err := json.Unmarshal(b, &c); err != nil {
				t.Fatal(err)
			}
			edit(c)
			if b, err = json.Marshal(c); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestConvertRejectsBadConfig: a config.json that does not match its
// checkpoint used to convert "successfully" into a GGUF no loader accepts
// (block_count 5 over 3 layers of tensors) or with wrapped values (hidden_size
// -256 written as embedding_length 4294967040).
func TestConvertRejectsBadConfig(t *testing.T) {
	for _, c := range []struct {
		key  string
		val  any
		want string
	}{
		{"num_hidden_layers", 5, "no tensors for layer 3"},
		{"hidden_size", -256, `"hidden_size" = -256 is out of range`},
		{"max_position_embeddings", 1 << 40, `"max_position_embeddings" = 1099511627776 is out of range`},
		{"rms_norm_eps", 1e300, `"rms_norm_eps" = 1e+300 is not a finite float32`},
	} {
		dir := checkpointCopy(t, func(m map[string]any) { m[c.key] = c.val })
		_, err := ConvertFile(context.Background(), dir, filepath.Join(t.TempDir(), "out.gguf"), Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s = %v: err = %v, want %q", c.key, c.val, err, c.want)
		}
	}
}

// TestConvertFileOutput: an output path that is a directory is refused
// before converting (it failed only at the final rename, "file exists"), so
// is one that is a file of the checkpoint (the rename replaced it), and
// the output is readable by everyone like any model file (it was 0600, the
// mode of the temporary file).
func TestConvertFileOutput(t *testing.T) {
	dir := checkpointCopy(t, nil)
	outDir := t.TempDir()
	if _, err := ConvertFile(context.Background(), dir, outDir, Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("output is a directory: err = %v", err)
	}
	// Writing over a file of the checkpoint would destroy the source.
	if _, err := ConvertFile(context.Background(), dir, filepath.Join(dir, "model.safetensors"), Options{}); err == nil || !strings.Contains(err.Error(), "of the checkpoint") {
		t.Fatalf("output is the checkpoint's weights: err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err != nil {
		t.Fatal(err)
	}
	// A missing directory was reported by the temporary file's name
	// ("open /x/.m.gguf.tmp-770493535: ...").
	missing := filepath.Join(outDir, "no-such-dir", "m.gguf")
	if _, err := ConvertFile(context.Background(), dir, missing, Options{}); err == nil ||
		!strings.Contains(err.Error(), "cannot create "+missing+": directory "+filepath.Dir(missing)+" does not exist") || strings.Contains(err.Error(), ".tmp-") {
		t.Fatalf("output in a missing directory: err = %v", err)
	}
	out := filepath.Join(outDir, "m.gguf")
	if _, err := ConvertFile(context.Background(), dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o044 != 0o044 {
		t.Fatalf("output mode %v, want group and others to read it", st.Mode().Perm())
	}
}
