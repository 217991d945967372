//go:build !linux

package hugepage

// newArena falls back to heap memory where madvise(MADV_HUGEPAGE) does not
// exist.
func newArena(size int) (*Arena, error) {
	raw := make([]byte, size)
	return &Arena{raw: raw, mem: raw}, nil
}

func release([]byte) error { return nil }
