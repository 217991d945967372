// Command _asm generates dseek's AVX2 kernels (../kernels_amd64.s and the
// declarations in ../kernels_amd64_stubs.go) with avo.
//
// Every generated function has a portable Go twin in the kernels package
// that it must agree with (the tests run both); the doc comment of each stub
// names the twin and states what is computed. Run `go generate` here (or
// `go run . -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg
// kernels`) after changing a generator; CI checks the output is current.
package main

//go:generate go run . -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg kernels

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/buildtags"
)

func main() {
	c, err := buildtags.ParseConstraint("amd64,!noasm")
	if err != nil {
		panic(err)
	}
	Constraints(c)
	constants()
	kquantKernels()
	legacyKernels()
	gemmKernels()
	rowKernels()
	floatKernels()
	quantizers()
	vectorOps()
	Generate()
	checkRegisters()
}

// checkRegisters fails if the allocator used a vector register above 15:
// the kernels are AVX2 (VEX) code, which cannot address X16-X31/Y16-Y31.
func checkRegisters() {
	out := ""
	for i, a := range os.Args {
		if a == "-out" && i+1 < len(os.Args) {
			out = os.Args[i+1]
		}
	}
	if out == "" {
		return
	}
	src, err := os.ReadFile(out)
	if err != nil {
		panic(err)
	}
	bad := regexp.MustCompile(`\b[XY](1[6-9]|2[0-9]|3[01])\b`)
	fn := ""
	seen := map[string]bool{}
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "TEXT ") {
			fn = line
		}
		if bad.MatchString(line) && !seen[fn] {
			seen[fn] = true
			fmt.Fprintf(os.Stderr, "too many vector registers in %s\n", fn)
		}
	}
	if len(seen) > 0 {
		os.Exit(1)
	}
}
