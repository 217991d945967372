// Package mmap maps a whole file read-only into memory so that tensor data can
// be handed out as zero-copy []byte views.
//
// On unix systems the file is mapped with mmap(2) (PROT_READ, MAP_SHARED) via
// golang.org/x/sys/unix: pages are loaded lazily by the kernel and shared with
// the page cache, so mapping a 600 GB model costs no RAM until bytes are read.
// On other systems (build tag !unix) Open falls back to reading the whole file
// into a heap buffer; the API and the read-only contract are the same, but the
// whole file is resident.
package mmap

import (
	"errors"
	"fmt"
	"io"
)

// File is a read-only view of a whole file. Its Bytes stay valid until Close.
// Writing to the returned bytes faults on unix (the mapping is read-only) and
// is a contract violation elsewhere.
type File struct {
	data   []byte
	mapped bool // true if data is an mmap(2) mapping that Close must unmap
	closed bool
}

// ErrClosed is returned by ReadAt after Close.
var ErrClosed = errors.New("mmap: file closed")

// Bytes returns the whole file contents, [Len()] bytes. The slice aliases the
// mapping: it must not be modified or used after Close.
func (m *File) Bytes() []byte { return m.data }

// Len returns the file size in bytes at the time it was opened.
func (m *File) Len() int { return len(m.data) }

// Mapped reports whether the contents are an OS memory mapping (true on unix
// for a non-empty file) rather than a heap copy.
func (m *File) Mapped() bool { return m.mapped }

// ReadAt implements io.ReaderAt over the mapped bytes: it copies
// len(p) bytes starting at off and returns io.EOF when fewer are available.
func (m *File) ReadAt(p []byte, off int64) (int, error) {
	if m.closed {
		return 0, ErrClosed
	}
	if off < 0 {
		return 0, fmt.Errorf("mmap: negative offset %d", off)
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Close releases the mapping. Every slice obtained from Bytes becomes invalid
// (on unix, touching it faults). Close is idempotent.
func (m *File) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	data := m.data
	m.data = nil
	if m.mapped && len(data) > 0 {
		return unmap(data)
	}
	return nil
}
