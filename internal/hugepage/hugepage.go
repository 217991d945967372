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

// Size is the huge page size the region is aligned to, 2 MiB: the PMD size
// of x86-64 and of arm64 with 4 KiB base pages (arm64 kernels with 16 or
// 64 KiB base pages have larger huge pages; the alignment is then merely
// not enough for the first one, which costs nothing else).
const Size = 2 << 20

// align is the alignment of every Alloc result in bytes: one cache line, and
// a multiple of every GGUF block size's natural alignment.
const align = 64

// Arena is a bump allocator over one region of anonymous memory reserved up
// front. Pages become resident only when written, so reserving more than is
// used costs address space, not RAM (under vm.overcommit_memory=2 the whole
// reservation counts against the commit limit, and New fails with ENOMEM
// when it does not fit). An Arena is not safe for concurrent
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
// Linux touching one faults). Close is idempotent; its error is munmap(2)'s
// (EINVAL only if the region was corrupted), nil elsewhere.
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

// Enabled reports whether THP() is "always" or "madvise": the modes in which
// a region advised MADV_HUGEPAGE gets huge pages.
func Enabled() bool {
	m := THP()
	return m == "always" || m == "madvise"
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

// MemAvailable returns the memory available to this process for new work
// without swapping, in bytes: the kernel's estimate (MemAvailable of
// /proc/meminfo), capped by the process's memory cgroup (v2 memory.max, v1
// memory.limit_in_bytes) minus the anonymous memory the cgroup already
// holds, since a container's limit is usually far below the host's free
// memory and exceeding it gets the process OOM-killed. ok is false when
// /proc/meminfo cannot be read.
func MemAvailable() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	n, ok = parseMemAvailable(string(b))
	if !ok {
		return 0, false
	}
	if c, ok := cgroupAvailable(os.ReadFile); ok && c < n {
		n = c
	}
	return n, true
}

// cgroupAvailable is the process's memory cgroup limit minus the cgroup's
// anonymous memory (page cache, which the kernel reclaims, is not counted);
// ok is false without a limit. read reads a file (os.ReadFile; tests pass a
// fake file system).
func cgroupAvailable(read func(string) ([]byte, error)) (int64, bool) {
	b, err := read("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		var dirs []string
		var limitFile, anonKey string
		switch {
		case f[0] == "0" && f[1] == "": // cgroup v2
			dirs = []string{"/sys/fs/cgroup" + f[2], "/sys/fs/cgroup"}
			limitFile, anonKey = "memory.max", "anon"
		case hasController(f[1], "memory"): // cgroup v1
			dirs = []string{"/sys/fs/cgroup/memory" + f[2], "/sys/fs/cgroup/memory"}
			limitFile, anonKey = "memory.limit_in_bytes", "total_rss"
		default:
			continue
		}
		for _, d := range dirs {
			lb, err := read(d + "/" + limitFile)
			if err != nil {
				continue
			}
			limit, err := strconv.ParseInt(strings.TrimSpace(string(lb)), 10, 64)
			if err != nil || limit <= 0 || limit >= 1<<62 { // "max", or v1's "unlimited" page-rounded MaxInt64
				return 0, false
			}
			var anon int64
			if sb, err := read(d + "/memory.stat"); err == nil {
				anon = statValue(string(sb), anonKey)
			}
			return max(limit-anon, 0), true
		}
	}
	return 0, false
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// statValue returns the value of key in a memory.stat file ("key value"
// lines), 0 when absent.
func statValue(s, key string) int64 {
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
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
