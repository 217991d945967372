package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestParseName(t *testing.T) {
	for in, want := range map[string]string{
		"hf.co/org/repo":                        "hf.co/org/repo",
		"hf.co/org/repo:q4_k_m":                 "hf.co/org/repo:Q4_K_M",
		"https://huggingface.co/Org/Re.po-GGUF": "hf.co/Org/Re.po-GGUF",
		"deepseek-r1:1.5b":                      "deepseek-r1:1.5b",
		"hf.co/org/repo:model-Q4_K_M.gguf":      "hf.co/org/repo:model-Q4_K_M.gguf",
		"deepseek-v2-lite":                      "deepseek-v2-lite",
	} {
		n, err := ParseName(in)
		if err != nil || n.String() != want {
			t.Errorf("ParseName(%q) = %q, %v; want %q", in, n.String(), err, want)
		}
	}
	for _, bad := range []string{"", "hf.co/org", "hf.co/org/repo/x", "a/b", "hf.co/../x", "hf.co/org/repo:..", "x:a/b", "hf.co/o/r:a b"} {
		if _, err := ParseName(bad); err == nil {
			t.Errorf("ParseName(%q) accepted", bad)
		}
	}
	for s, want := range map[string]bool{"Q4_K_M": true, "iq4_xs": true, "Q8_0": true, "BF16": true, "TQ1_0": true,
		"Q2_K_XL": true, "1.5b": false, "Qwen": false, "Q": false, "Q9_0": false, "GGUF": false} {
		if IsQuantName(s) != want {
			t.Errorf("IsQuantName(%q) = %v", s, !want)
		}
	}
}

// put installs a model with the given files (repo paths) under name.
func put(t *testing.T, s *Store, name string, files ...string) *Manifest {
	t.Helper()
	m := &Manifest{Name: name}
	for _, f := range files {
		dest, rel, err := s.FilePath(Name{Host: "hf.co", Repo: "org/repo"}, "abc123", f)
		if err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(s.TmpDir(), "x.part")
		if err := os.WriteFile(tmp, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.Install(tmp, dest); err != nil {
			t.Fatal(err)
		}
		m.Files = append(m.Files, File{Path: rel, Repo: f, Size: int64(len(f))})
	}
	m.Model = m.Files[0].Path
	unlock, err := s.Lock()
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if err := s.Put(m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPutGetListRemove(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, "hf.co/org/repo:Q4_K_M", "m-Q4_K_M.gguf")
	put(t, s, "deepseek-r1:1.5b", "m-Q4_K_M.gguf") // same file, second name
	put(t, s, "hf.co/org/repo:Q8_0", "q8/m-Q8_0-00001-of-00002.gguf", "q8/m-Q8_0-00002-of-00002.gguf")
	list, err := s.List()
	if err != nil || len(list) != 3 {
		t.Fatalf("List: %d, %v", len(list), err)
	}
	p, err := s.Resolve("deepseek-r1:1.5b")
	if err != nil || !strings.HasSuffix(p, filepath.FromSlash("abc123/m-Q4_K_M.gguf")) {
		t.Fatalf("Resolve: %s %v", p, err)
	}
	if p2, err := s.Resolve(p); err != nil || p2 != p {
		t.Errorf("Resolve(path) = %s %v", p2, err)
	}
	if _, err := s.Resolve("hf.co/org/repo"); err != nil { // no tag: Q4_K_M
		t.Errorf("Resolve without tag: %v", err)
	}
	if _, err := s.Resolve("missing.gguf"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing path: %v", err)
	}
	// A directory was reported as "does not exist".
	if _, err := s.Resolve(t.TempDir()); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := s.Resolve("hf.co/org/other"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "dseek pull") {
		t.Errorf("missing name: %v", err)
	}
	// Removing one name keeps the file the other name uses.
	if err := s.Remove("hf.co/org/repo:Q4_K_M"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Errorf("shared file removed: %v", err)
	}
	if err := s.Remove("deepseek-r1:1.5b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("unused file kept: %v", err)
	}
	if err := s.Remove("deepseek-r1:1.5b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second remove: %v", err)
	}
	if _, _, err := s.FilePath(Name{Host: "hf.co", Repo: "org/repo"}, "abc", "../../x"); err == nil {
		t.Error("path traversal accepted")
	}
}

// TestConcurrentPuts: many goroutines writing manifests under the lock
// leave every manifest complete and parseable.
func TestConcurrentPuts(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dest, rel, _ := s.FilePath(Name{Host: "hf.co", Repo: "org/repo"}, "abc", "f.gguf")
	os.MkdirAll(filepath.Dir(dest), 0o755)
	os.WriteFile(dest, []byte("data"), 0o644)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := s.Lock()
			if err != nil {
				t.Error(err)
				return
			}
			defer unlock()
			m := &Manifest{Name: fmt.Sprintf("hf.co/org/repo:Q%d_0", 4+i%2), Model: rel, Files: []File{{Path: rel, Size: 4}}}
			if err := s.Put(m); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	list, err := s.List()
	if err != nil || len(list) != 2 {
		t.Errorf("List: %d %v", len(list), err)
	}
}

func TestDefaultRoot(t *testing.T) {
	t.Setenv(EnvModels, "/x/models")
	if r, _ := DefaultRoot(); r != "/x/models" {
		t.Errorf("env override: %s", r)
	}
	t.Setenv(EnvModels, "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if r, _ := DefaultRoot(); runtime.GOOS == "linux" && r != filepath.Join("/data", "dseek", "models") {
		t.Errorf("XDG_DATA_HOME: %s", r)
	}
}

// TestAtCreatesNothing: reading and removing on a store that does not exist
// (a mistyped --models-dir) report an empty store and create nothing; `dseek
// list` and `dseek rm` used to create the whole tree (files, tmp, manifests,
// locks, .lock) at any path.
func TestAtCreatesNothing(t *testing.T) {
	root := filepath.Join(t.TempDir(), "typo", "models")
	s, err := At(root)
	if err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of a missing store: %#v, %v; want an empty non-nil list", list, err)
	}
	if err := s.Remove("deepseek-r1:1.5b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove from a missing store: %v, want ErrNotFound", err)
	}
	if _, err := s.Resolve("deepseek-r1:1.5b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Resolve in a missing store: %v, want ErrNotFound", err)
	}
	if _, err := s.Get("hf.co/org/repo"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get in a missing store: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Dir(root)); !os.IsNotExist(err) {
		t.Fatalf("a read-only use created %s: %v", filepath.Dir(root), err)
	}
	// An existing empty store: no .lock or other file appears either.
	empty := t.TempDir()
	s, _ = At(empty)
	if list, err := s.List(); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of an empty directory: %#v, %v", list, err)
	}
	if err := s.Remove("deepseek-r1:1.5b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove from an empty store: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("an empty store directory got %d entries (%s, ...)", len(ents), ents[0].Name())
	}
	// Open creates the tree, and lists [] as well.
	s, err = Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.TmpDir()); err != nil {
		t.Errorf("Open did not create the store: %v", err)
	}
	if list, err := s.List(); err != nil || list == nil || len(list) != 0 {
		t.Errorf("List of a new store: %#v, %v", list, err)
	}
}
