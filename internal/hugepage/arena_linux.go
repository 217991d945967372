//go:build linux

package hugepage

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// newArena maps size bytes (plus one huge page of slack to align the start)
// of private anonymous memory and advises it MADV_HUGEPAGE.
func newArena(size int) (*Arena, error) {
	raw, err := unix.Mmap(-1, 0, size+Size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("hugepage: reserve %d bytes: %w", size, err)
	}
	skip := int((Size - uintptr(unsafe.Pointer(&raw[0]))%Size) % Size)
	mem := raw[skip : skip+size : skip+size]
	huge := false
	if Enabled() {
		// The advice is a hint: an error (an old kernel) leaves 4 KiB pages.
		huge = unix.Madvise(mem, unix.MADV_HUGEPAGE) == nil
	}
	return &Arena{raw: raw, mem: mem, huge: huge}, nil
}

func release(raw []byte) error { return unix.Munmap(raw) }
