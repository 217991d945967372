package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkOutputDir checks that the directory of the output file out exists,
// before any work: quantize, convert and synth used to fail with the
// temporary file's name ("open /nonexistent/.x.gguf.tmp-770493535: no such
// file or directory").
func checkOutputDir(out string) error {
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("cannot create %s: directory %s does not exist", out, dir)
	case err != nil:
		return fmt.Errorf("cannot create %s: %v", out, err)
	case !st.IsDir():
		return fmt.Errorf("cannot create %s: %s is not a directory", out, dir)
	}
	return nil
}

// outputError rewrites a failure to create the temporary file next to out
// (".x.gguf.tmp-123", "x.gguf.partial") to name out instead.
func outputError(out string, err error) error {
	var pe *fs.PathError
	if err == nil || !errors.As(err, &pe) || filepath.Dir(pe.Path) != filepath.Dir(out) {
		return err
	}
	base := filepath.Base(pe.Path)
	if pe.Op != "open" || !strings.Contains(base, filepath.Base(out)) || base == filepath.Base(out) {
		return err
	}
	if cerr := checkOutputDir(out); cerr != nil {
		return cerr
	}
	return fmt.Errorf("cannot create %s: %v", out, pe.Err)
}
