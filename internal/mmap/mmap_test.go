package mmap

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenReadClose(t *testing.T) {
	dir := t.TempDir()
	want := make([]byte, 10000)
	for i := range want {
		want[i] = byte(i*7 + 3)
	}
	p := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(p, want, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(want) || !bytes.Equal(m.Bytes(), want) {
		t.Fatalf("contents differ: len %d want %d", m.Len(), len(want))
	}
	buf := make([]byte, 100)
	n, err := m.ReadAt(buf, 9950)
	if n != 50 || !errors.Is(err, io.EOF) || !bytes.Equal(buf[:50], want[9950:]) {
		t.Fatalf("ReadAt tail: n=%d err=%v", n, err)
	}
	if n, err = m.ReadAt(buf, 5); n != 100 || err != nil || !bytes.Equal(buf, want[5:105]) {
		t.Fatalf("ReadAt: n=%d err=%v", n, err)
	}
	if _, err := m.ReadAt(buf, -1); err == nil {
		t.Fatal("negative offset accepted")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := m.ReadAt(buf, 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("ReadAt after Close: %v", err)
	}
}

func TestOpenEmptyAndMissing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "empty")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 0 || m.Mapped() {
		t.Fatalf("empty file: len %d mapped %v", m.Len(), m.Mapped())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
