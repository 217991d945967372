package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeManifest writes raw JSON as the manifest of name.
func writeManifest(t *testing.T, s *Store, name, raw string) {
	t.Helper()
	n, err := ParseName(name)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(s.manifestDir(), filepath.FromSlash(n.manifestRel()))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestManifestOutsideStore: a manifest naming a file outside files/ (hand
// edited or damaged) is corrupt. `dseek rm` used to delete whatever such a
// manifest named, e.g. a file next to the store.
func TestManifestOutsideStore(t *testing.T) {
	root := t.TempDir()
	s, err := Open(filepath.Join(root, "store"))
	if err != nil {
		t.Fatal(err)
	}
	precious := filepath.Join(root, "precious.txt")
	if err := os.WriteFile(precious, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"../precious.txt", "files/../../precious.txt", "/etc/passwd", "files/", "manifests/x.json", "files/a/./b"} {
		writeManifest(t, s, "hf.co/org/bad:Q8_0", `{"schema":1,"name":"hf.co/org/bad:Q8_0","files":[{"path":"`+bad+`"}],"model":"files/a.gguf"}`)
		if _, err := s.Get("hf.co/org/bad:Q8_0"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("path %q: Get err = %v, want ErrCorrupt", bad, err)
		}
		if err := s.Remove("hf.co/org/bad:Q8_0"); !errors.Is(err, ErrCorrupt) {
			t.Errorf("path %q: Remove err = %v, want ErrCorrupt", bad, err)
		}
	}
	if _, err := os.Stat(precious); err != nil {
		t.Fatalf("the file outside the store is gone: %v", err)
	}
}

// TestDamagedManifestDoesNotBlock: one unreadable manifest used to make
// List fail outright (dseek list showed nothing) and made Remove fail after
// it had deleted the manifest, orphaning the model's files.
func TestDamagedManifestDoesNotBlock(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := put(t, s, "hf.co/org/repo:Q4_K_M", "m-Q4_K_M.gguf")
	writeManifest(t, s, "hf.co/org/broken:Q8_0", `{not json`)
	list, err := s.List()
	if len(list) != 1 || list[0].Name != m.Name {
		t.Fatalf("List = %v, want the readable manifest", list)
	}
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("List err = %v, want ErrCorrupt naming the broken manifest", err)
	}
	if err := s.Remove(m.Name); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.Root, filepath.FromSlash(m.Files[0].Path))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the removed model's file is still there: %v", err)
	}
}
