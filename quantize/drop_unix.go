//go:build unix

package quantize

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropPages tells the kernel that the pages fully inside b, a part of a
// read-only file mapping already consumed, are not needed any more
// (madvise MADV_DONTNEED), so that streaming a model through a mapping does
// not grow the resident set to the model size. The pages come back from
// the page cache if touched again. b must be part of a file mapping.
func dropPages(b []byte) {
	if len(b) == 0 {
		return
	}
	ps := uintptr(os.Getpagesize())
	start := uintptr(unsafePointer(b))
	lo := (start + ps - 1) &^ (ps - 1)
	hi := (start + uintptr(len(b))) &^ (ps - 1)
	if hi <= lo {
		return
	}
	_ = unix.Madvise(b[lo-start:hi-start], unix.MADV_DONTNEED)
}
