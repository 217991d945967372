package quantize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/internal/fixtures"
)

// TestFileOutPath: quantizing a model onto itself used to rename the output
// over the input, replacing the source model with its own quantization (it
// destroyed an F16 file); an output that is a directory failed only at the
// end ("file exists"); the output was 0600. The source here is a temporary
// copy of a fixture.
func TestFileOutPath(t *testing.T) {
	dir, err := fixtures.Dir()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(dir, "models", "qwen2-tiny-F16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	in := filepath.Join(tmp, "m-F16.gguf")
	if err := os.WriteFile(in, src, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "link.gguf")
	if err := os.Symlink(in, link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{in, link} {
		_, err := File(context.Background(), in, out, MostlyQ8_0, Options{})
		if err == nil || !strings.Contains(err.Error(), "is the input file") {
			t.Errorf("output %s: err = %v, want a refusal", out, err)
		}
	}
	if b, _ := os.ReadFile(in); !bytes.Equal(b, src) {
		t.Fatal("the input file changed")
	}
	if _, err := File(context.Background(), in, tmp, MostlyQ8_0, Options{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("output is a directory: err = %v", err)
	}
	out := filepath.Join(tmp, "m-Q8_0.gguf")
	if _, err := File(context.Background(), in, out, MostlyQ8_0, Options{}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm()&0o044 != 0o044 {
		t.Fatalf("output: %v %v, want readable by group and others", st.Mode(), err)
	}
}
