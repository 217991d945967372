package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Install moves a verified file (tmp, on the same file system) to its place
// dest in files/ by an atomic rename. dest is keyed by repository, commit
// and path, so a file already there has the same (verified) content and is
// replaced by an identical one. Call it with the lock held. Errors: rename
// failures.
func (s *Store) Install(tmp, dest string) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fmt.Errorf("store: installing %s: %w", dest, err)
	}
	return nil
}

// Put writes the manifest of m.Name atomically (temporary file, fsync,
// rename), keeping Created of an existing manifest. Every file it lists
// must already be installed. Call it with the lock held. Errors: a bad
// name, missing files, I/O.
func (s *Store) Put(m *Manifest) error {
	n, err := ParseName(m.Name)
	if err != nil {
		return err
	}
	for _, f := range m.Files {
		st, err := os.Stat(filepath.Join(s.Root, filepath.FromSlash(f.Path)))
		if err != nil || st.Size() != f.Size {
			return fmt.Errorf("store: manifest %s: file %s is not installed", m.Name, f.Path)
		}
	}
	now := time.Now().UTC()
	m.Schema, m.Modified = 1, now
	if old, err := s.get(n); err == nil && !old.Created.IsZero() {
		m.Created = old.Created
	} else if m.Created.IsZero() {
		m.Created = now
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(s.manifestDir(), filepath.FromSlash(n.manifestRel())), b)
}

// writeAtomic writes data to path through a temporary file in the same
// directory and a rename, so readers see the old or the new content only.
func writeAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Remove deletes the model name and every file no other manifest uses.
// Errors: ErrNotFound (wrapped), I/O.
func (s *Store) Remove(name string) error {
	// Look first without the lock: taking it creates .lock, and a name that
	// is not there (or a store that does not exist) must change nothing.
	if _, err := s.Get(name); err != nil {
		return err
	}
	unlock, err := s.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	m, err := s.Get(name)
	if err != nil {
		return err
	}
	// The files other names use, gathered before anything is removed: a
	// List error after the manifest was gone used to leave the model's
	// files behind with no name to remove them by. Unreadable manifests
	// are skipped (their files cannot be known).
	all, _ := s.List()
	used := map[string]bool{}
	for _, o := range all {
		if o.Name == m.Name {
			continue
		}
		for _, f := range o.Files {
			used[f.Path] = true
		}
	}
	n, _ := ParseName(m.Name)
	if err := os.Remove(filepath.Join(s.manifestDir(), filepath.FromSlash(n.manifestRel()))); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	for _, f := range m.Files {
		if used[f.Path] {
			continue
		}
		p := filepath.Join(s.Root, filepath.FromSlash(f.Path))
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: %w", err)
		}
		s.pruneDirs(filepath.Dir(p))
	}
	return nil
}

// pruneDirs removes empty directories from dir up to files/.
func (s *Store) pruneDirs(dir string) {
	stop := s.filesDir()
	for strings.HasPrefix(dir, stop+string(filepath.Separator)) {
		if os.Remove(dir) != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// Resolve returns the GGUF file to load for nameOrPath: an existing file
// path as is; otherwise a model name of the store (see ParseName), whose
// manifest gives the file (part 1 of a split model). Errors: a name the
// store does not hold (the message says how to pull it), a path-like
// argument that does not exist.
func (s *Store) Resolve(nameOrPath string) (string, error) {
	st, err := os.Stat(nameOrPath)
	if err == nil && !st.IsDir() {
		return nameOrPath, nil
	}
	if looksLikePath(nameOrPath) {
		switch {
		case err == nil:
			return "", fmt.Errorf("model path %s is a directory, not a GGUF file", nameOrPath)
		case !errors.Is(err, fs.ErrNotExist):
			return "", fmt.Errorf("model file %s: %w", nameOrPath, err)
		}
		return "", fmt.Errorf("model file %s does not exist", nameOrPath)
	}
	m, err := s.Get(nameOrPath)
	if err != nil {
		return "", err
	}
	p := s.ModelPath(m)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("store: %s: its file %s is missing; pull it again", m.Name, p)
	}
	return p, nil
}

func looksLikePath(s string) bool {
	return strings.HasSuffix(strings.ToLower(s), ".gguf") || strings.HasPrefix(s, ".") ||
		strings.HasPrefix(s, "/") || strings.Contains(s, `\`) || filepath.IsAbs(s)
}

// Resolve is Store.Resolve on the default store (DefaultRoot, honouring
// $DSEEK_MODELS): what `dseek run/serve/bench/show` use to accept a model
// name wherever they accept a path. An existing file path is returned
// unchanged without touching the store.
func Resolve(nameOrPath string) (string, error) {
	if st, err := os.Stat(nameOrPath); err == nil && !st.IsDir() {
		return nameOrPath, nil
	}
	root, err := DefaultRoot()
	if err != nil {
		return "", err
	}
	return (&Store{Root: root}).Resolve(nameOrPath)
}
