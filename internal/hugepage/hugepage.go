// Package hugepage provides memory for model weights that the kernel may back
// with transparent huge pages (THP, 2 MiB on x86-64) instead of 4 KiB pages.
//
// Decode streams every weight once per token. With 4 KiB pages a 1 GiB model
// crosses 262,144 pages per token: each costs a TLB miss, and the hardware
// prefetchers stop at every page boundary. In one region advised with
// madvise(MADV_HUGEPAGE) the same weights span 512 pages. ik_llama.cpp's
// -thp option does the same with hugetlbfs pages (MAP_HUGETLB), which need
// pages reserved by root; THP needs only
// /sys/kernel/mm/transparent_hugepage/enabled set to "always" or "madvise"
// (the default of most distributions).
//
// On systems other than Linux an Arena is ordinary heap memory: the API and
// the results are the same, only the page size differs.
package hugepage

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Size is the huge page size the region is aligned to, 2 MiB (x86-64 and
// arm64 with 4 KiB base pages).
const Size = 2 << 20

// align is the alignment of every Alloc result in bytes: one cache line, and
// a multiple of every GGUF block size's natural alignment.
const align = 64

// Arena is a bump allocator over one region of anonymous memory reserved up
// front. Pages become resident only when written, so reserving more than is
// used costs address space, not RAM. An Arena is not safe for concurrent
// Alloc; the slices it returns stay valid until Close.
type Arena struct {
	raw  []byte // the whole mapping (Linux) or heap buffer
	mem  []byte // raw from its first Size-aligned byte
	off  int    // bytes of mem handed out
	huge bool   // mem was advised MADV_HUGEPAGE and THP is enabled
}

// New reserves an arena of at least size bytes. Errors: size <= 0 or
// beyond the address space, or the mmap(2) failure (ENOMEM) on Linux.
func New(size int64) (*Arena, error) {
	if size <= 0 || size > int64(^uint(0)>>2) {
		return nil, fmt.Errorf("hugepage: cannot reserve %d bytes", size)
	}
	return newArena(int(size))
}

// Alloc returns n bytes (n >= 0) aligned to 64 bytes, zeroed. It fails when
// fewer than n bytes remain or after Close.
func (a *Arena) Alloc(n int) ([]byte, error) {
	if a.mem == nil {
		return nil, fmt.Errorf("hugepage: Alloc on a closed arena")
	}
	start := (a.off + align - 1) &^ (align - 1)
	if n < 0 || start > len(a.mem) || n > len(a.mem)-start {
		return nil, fmt.Errorf("hugepage: Alloc of %d bytes: %d of %d bytes left", n, len(a.mem)-min(start, len(a.mem)), len(a.mem))
	}
	a.off = start + n
	return a.mem[start : start+n : start+n], nil
}

// Used is the number of bytes handed out, alignment padding included.
func (a *Arena) Used() int64 { return int64(a.off) }

// Huge reports whether the region was advised for transparent huge pages
// and THP is enabled, so faults are served with 2 MiB pages when the kernel
// has them free (AnonHugePages in /proc/meminfo shows how many it found).
func (a *Arena) Huge() bool { return a.huge }

// Close releases the region; every slice from Alloc becomes invalid (on
// Linux touching one faults). Close is idempotent.
func (a *Arena) Close() error {
	if a.raw == nil {
		return nil
	}
	raw := a.raw
	a.raw, a.mem, a.off = nil, nil, 0
	return release(raw)
}

// THP returns the system's transparent huge page mode from
// /sys/kernel/mm/transparent_hugepage/enabled: "always", "madvise" or
// "never"; "" when it cannot be read (not Linux, or no THP support).
func THP() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	return parseTHP(string(b))
}

// parseTHP picks the bracketed mode out of a line like
// "always [madvise] never".
func parseTHP(s string) string {
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}

// MemAvailable returns the kernel's estimate of memory available to start
// new work without swapping (MemAvailable of /proc/meminfo), in bytes; ok is
// false when it cannot be read.
func MemAvailable() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	return parseMemAvailable(string(b))
}

func parseMemAvailable(s string) (int64, bool) {
	for _, line := range strings.Split(s, "\n") {
		rest, found := strings.CutPrefix(line, "MemAvailable:")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb < 0 {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
