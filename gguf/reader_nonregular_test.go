//go:build unix

package gguf

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestOpenNotRegular: a named pipe or a device is refused at once with
// what it is, instead of blocking on open or reading as an empty file.
func TestOpenNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "model.gguf")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	for path, kind := range map[string]string{fifo: "named pipe", os.DevNull: "character device"} {
		for _, opt := range []Options{{}, {NoMmap: true}} {
			_, err := OpenWith(path, opt)
			if err == nil || !strings.Contains(err.Error(), "not a regular file") || !strings.Contains(err.Error(), kind) {
				t.Errorf("%s (no-mmap %v): %v, want not a regular file (%s)", path, opt.NoMmap, err, kind)
			}
		}
	}
}
