package quant

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestNoFusedMultiplyAdd compiles this package for arm64 and for amd64 with
// GOAMD64=v3, the targets on which Go fuses x*y+z, and fails if the compiler
// emitted any fused multiply-add: llama-quantize's bytes depend on every
// product being rounded on its own (see the package documentation).
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles the package twice")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	fused := regexp.MustCompile(`\bV?FN?M(ADD|SUB)\w*`)
	for _, env := range [][]string{{"GOARCH=arm64"}, {"GOARCH=amd64", "GOAMD64=v3"}} {
		cmd := exec.Command(gobin, "build", "-o", os.DevNull, "-gcflags=-S", ".")
		cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: go build: %v\n%s", env, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if fused.MatchString(line) {
				t.Errorf("%v: fused multiply-add: %s", env, strings.TrimSpace(line))
			}
		}
	}
}
