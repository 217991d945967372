package hugepage

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// TestArenaAlloc: results are 64-byte aligned, zeroed, disjoint and
// writable; the arena refuses more than it has and works no more after
// Close.
func TestArenaAlloc(t *testing.T) {
	a, err := New(10 << 20)
	if err != nil {
		t.Fatal(err)
	}
	var bufs [][]byte
	for _, n := range []int{1, 63, 64, 65, 4096, 3 << 20, 0, 7} {
		b, err := a.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		if len(b) != n || cap(b) != n {
			t.Fatalf("Alloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		if n > 0 {
			if p := uintptr(unsafe.Pointer(&b[0])); p%align != 0 {
				t.Errorf("Alloc(%d) at %#x, not %d-byte aligned", n, p, align)
			}
			for i, v := range b {
				if v != 0 {
					t.Fatalf("Alloc(%d)[%d] = %d, want zeroed memory", n, i, v)
				}
			}
		}
		bufs = append(bufs, b)
	}
	for i, b := range bufs {
		for j := range b {
			b[j] = byte(i + 1)
		}
	}
	for i, b := range bufs {
		for j := range b {
			if b[j] != byte(i+1) {
				t.Fatalf("allocation %d overlaps another", i)
			}
		}
	}
	if u := a.Used(); u < 3<<20+4096+200 || u > 4<<20 {
		t.Errorf("Used = %d", u)
	}
	if _, err := a.Alloc(8 << 20); err == nil {
		t.Error("Alloc beyond the reservation succeeded")
	}
	if _, err := a.Alloc(-1); err == nil {
		t.Error("Alloc(-1) succeeded")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := a.Alloc(1); err == nil {
		t.Error("Alloc after Close succeeded")
	}
	for _, n := range []int64{0, -5, 1 << 62} {
		if _, err := New(n); err == nil {
			t.Errorf("New(%d) succeeded", n)
		}
	}
}

// TestArenaAdvised: on Linux with THP enabled the kernel must see the
// region as THP-eligible (smaps THPeligible: 1), i.e. the madvise took;
// whether the faults then find free 2 MiB pages depends on fragmentation and
// is not asserted.
func TestArenaAdvised(t *testing.T) {
	mode := THP()
	if runtime.GOOS != "linux" || (mode != "always" && mode != "madvise") {
		t.Skipf("THP not available (GOOS %s, mode %q)", runtime.GOOS, mode)
	}
	a, err := New(8 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if !a.Huge() {
		t.Fatal("Huge() = false with THP enabled")
	}
	b, _ := a.Alloc(4 << 20)
	for i := range b {
		b[i] = 1
	}
	addr := uintptr(unsafe.Pointer(&b[0]))
	if addr%Size != 0 {
		t.Errorf("region starts at %#x, not %d-aligned", addr, Size)
	}
	eligible, err := smapsField(addr, "THPeligible:")
	if err != nil {
		t.Skip(err)
	}
	if eligible != "1" {
		t.Errorf("THPeligible %q, want 1 (madvise(MADV_HUGEPAGE) did not take)", eligible)
	}
	huge, _ := smapsField(addr, "AnonHugePages:")
	t.Logf("AnonHugePages of the region: %s", huge)
}

// smapsField returns the value of field in the /proc/self/smaps entry of
// the mapping holding addr.
func smapsField(addr uintptr, field string) (string, error) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x", &lo, &hi); n == 2 && strings.Contains(line, " ") && !strings.HasSuffix(strings.Fields(line)[0], ":") {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, field) {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, field)), " "), nil
		}
	}
	return "", fmt.Errorf("no %s for %#x in /proc/self/smaps", field, addr)
}

func TestParseTHP(t *testing.T) {
	for in, want := range map[string]string{
		"always [madvise] never\n": "madvise",
		"[always] madvise never":   "always",
		"always madvise [never]":   "never",
		"":                         "",
		"garbage]":                 "",
	} {
		if got := parseTHP(in); got != want {
			t.Errorf("parseTHP(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMemAvailable(t *testing.T) {
	n, ok := parseMemAvailable("MemTotal:       24634580 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n")
	if !ok || n != 20000000<<10 {
		t.Errorf("got %d, %v", n, ok)
	}
	for _, bad := range []string{"", "MemAvailable: lots kB", "MemAvailable: 5 MB", "MemAvailable: -5 kB"} {
		if _, ok := parseMemAvailable(bad); ok {
			t.Errorf("parseMemAvailable(%q) ok", bad)
		}
	}
}

// fakeFS serves file contents from a map for cgroupAvailable.
func fakeFS(files map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
}

func TestCgroupAvailable(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64
		ok    bool
	}{
		{"v2 limit", map[string]string{
			"/proc/self/cgroup":                         "0::/user.slice/app\n",
			"/sys/fs/cgroup/user.slice/app/memory.max":  "8589934592\n",
			"/sys/fs/cgroup/user.slice/app/memory.stat": "anon 1073741824\nfile 5000000000\n",
		}, 8589934592 - 1073741824, true},
		{"v2 max", map[string]string{
			"/proc/self/cgroup":         "0::/\n",
			"/sys/fs/cgroup/memory.max": "max\n",
		}, 0, false},
		{"v2 namespaced path falls back to the root", map[string]string{
			"/proc/self/cgroup":         "0::/../outside\n",
			"/sys/fs/cgroup/memory.max": "4294967296\n",
		}, 4294967296, true},
		{"v1 limit", map[string]string{
			"/proc/self/cgroup": "9:name=systemd:/\n4:memory:/job/1\n0::/\n",
			"/sys/fs/cgroup/memory/job/1/memory.limit_in_bytes": "2147483648\n",
			"/sys/fs/cgroup/memory/job/1/memory.stat":           "rss 100\ntotal_rss 1000\n",
		}, 2147483648 - 1000, true},
		{"v1 unlimited", map[string]string{
			"/proc/self/cgroup":                           "4:cpu,memory:/\n",
			"/sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 0, false},
		{"no cgroup file", map[string]string{}, 0, false},
	} {
		got, ok := cgroupAvailable(fakeFS(c.files))
		if got != c.want || ok != c.ok {
			t.Errorf("%s: got %d, %v; want %d, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
