//go:build !unix

package mmap

import (
	"errors"
	"os"
)

// Open reads the whole file at path into memory. This is the fallback for
// systems without the unix mmap(2) wrapper: the API is the same as on unix,
// but the contents are a heap copy, so the whole file is resident.
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return &File{data: data}, nil
}

// OpenFile reads the whole of the open file f into memory (see Open); f
// stays open and owned by the caller.
func OpenFile(f *os.File) (*File, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && len(data) > 0 {
		return nil, err
	}
	return &File{data: data}, nil
}

func unmap([]byte) error { return errors.New("mmap: unmap without a mapping") }
