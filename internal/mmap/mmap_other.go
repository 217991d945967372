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

func unmap([]byte) error { return errors.New("mmap: unmap without a mapping") }
