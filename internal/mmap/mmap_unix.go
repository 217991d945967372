//go:build unix

package mmap

import (
	"fmt"
	"math"
	"os"

	"golang.org/x/sys/unix"
)

// Open maps the whole file at path read-only (PROT_READ, MAP_SHARED). The file
// descriptor is closed before returning; the mapping keeps the contents
// reachable. An empty file gives an empty, unmapped File.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return OpenFile(f)
}

// OpenFile maps the whole of the open file f like Open. f stays open and
// owned by the caller (closing it does not affect the mapping), so the
// caller can keep reading the very file it mapped with pread even if the
// path is later replaced or removed.
func OpenFile(f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		return &File{}, nil
	}
	if size < 0 || uint64(size) > uint64(math.MaxInt) {
		return nil, fmt.Errorf("mmap: %s: size %d does not fit in the address space", f.Name(), size)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %s: %w", f.Name(), err)
	}
	return &File{data: data, mapped: true}, nil
}

func unmap(data []byte) error { return unix.Munmap(data) }
