// Package store is dseek's local model store: downloaded GGUF files and a
// JSON manifest per model name, under the user's data directory.
//
// Layout under the root (DefaultRoot):
//
//	manifests/hf.co/ORG/REPO/TAG.json    one manifest per model name
//	manifests/library/FAMILY/TAG.json    (aliases such as deepseek-r1:1.5b)
//	files/hf.co/ORG/REPO/COMMIT/PATH     the files, under their repository
//	                                     path so split GGUF parts stay together
//	tmp/                                 partial downloads (resumable)
//	locks/                               per-download lock files
//	.lock                                the store lock
//
// Consistency: a file enters files/ only after its sha256 was verified (by
// an atomic rename from tmp/), and a manifest is written (atomically, by
// rename) only after all its files are in place, so Resolve never returns
// a file of an unfinished pull. Changes take an exclusive file lock on
// .lock, so concurrent dseek processes are safe.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// EnvModels overrides the store root (the --models-dir flag overrides it).
const EnvModels = "DSEEK_MODELS"

// DefaultRoot returns the store root: $DSEEK_MODELS if set; otherwise on
// Linux and other unix systems $XDG_DATA_HOME/dseek/models (default
// ~/.local/share/dseek/models), on macOS ~/Library/Application
// Support/dseek/models, on Windows %LOCALAPPDATA%\dseek\models. Errors: no
// home directory can be determined.
func DefaultRoot() (string, error) {
	if d := os.Getenv(EnvModels); d != "" {
		return d, nil
	}
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "dseek", "models"), nil
		}
	case "darwin":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("store: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support", "dseek", "models"), nil
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "dseek", "models"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("store: %w", err)
	}
	return filepath.Join(home, ".local", "share", "dseek", "models"), nil
}

// Store is a model store rooted at Root.
type Store struct {
	Root string
}

// Open returns the store at root ("" = DefaultRoot), creating its
// directories: for commands that write (pull). Commands that only read or
// remove use At, which creates nothing. Errors: the directories cannot be
// created.
func Open(root string) (*Store, error) {
	s, err := At(root)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{s.manifestDir(), s.filesDir(), s.TmpDir(), s.lockDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return s, nil
}

// At returns the store at root ("" = DefaultRoot) without creating
// anything: a missing root reads as an empty store (Get and Resolve say the
// model is not there, List returns nothing, Remove returns ErrNotFound).
// `dseek list` and `dseek rm` with a mistyped --models-dir used to create a
// whole store tree there. Errors: no default root can be determined.
func At(root string) (*Store, error) {
	if root == "" {
		var err error
		if root, err = DefaultRoot(); err != nil {
			return nil, err
		}
	}
	return &Store{Root: root}, nil
}

func (s *Store) manifestDir() string { return filepath.Join(s.Root, "manifests") }
func (s *Store) filesDir() string    { return filepath.Join(s.Root, "files") }

// TmpDir is where partial downloads live.
func (s *Store) TmpDir() string { return filepath.Join(s.Root, "tmp") }

func (s *Store) lockDir() string { return filepath.Join(s.Root, "locks") }

// LockFile returns the path of a lock file for id (letters, digits, '.',
// '_', '-'), for callers that serialise work on one object (a download).
// Lock files are kept: removing a lock file others may wait on is racy.
func (s *Store) LockFile(id string) string { return filepath.Join(s.lockDir(), id+".lock") }

// File is one file of a model.
type File struct {
	Path   string `json:"path"`   // relative to the store root, slash-separated
	Repo   string `json:"repo"`   // path inside the repository
	Size   int64  `json:"size"`   // bytes
	SHA256 string `json:"sha256"` // hex
}

// Source is where a model came from.
type Source struct {
	Hub      string `json:"hub,omitempty"`      // endpoint, e.g. https://huggingface.co
	Repo     string `json:"repo,omitempty"`     // ORG/REPO
	Revision string `json:"revision,omitempty"` // commit sha
	Tag      string `json:"tag,omitempty"`      // what was asked for (quant or file)
}

// Manifest describes one stored model (JSON, one file per name).
type Manifest struct {
	Schema   int       `json:"schema"` // 1
	Name     string    `json:"name"`   // canonical Name.String()
	Source   Source    `json:"source"`
	Files    []File    `json:"files"`
	Model    string    `json:"model"` // the file to load (part 1 of a split model), relative to the root
	Quant    string    `json:"quant,omitempty"`
	Arch     string    `json:"arch,omitempty"`
	Size     int64     `json:"size"` // total bytes of Files
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
}

// ModelPath is the absolute path of the file to load.
func (s *Store) ModelPath(m *Manifest) string {
	return filepath.Join(s.Root, filepath.FromSlash(m.Model))
}

// FilePath returns the absolute path a repository file of the given
// revision has in the store (slash-separated repo path, e.g. "sub/x.gguf").
// Errors: a path that would leave the store.
func (s *Store) FilePath(n Name, revision, repoPath string) (string, string, error) {
	rel := strings.Join([]string{n.Host, n.Repo, revision, repoPath}, "/")
	clean := filepath.ToSlash(filepath.Clean(filepath.FromSlash(rel)))
	if clean != rel || strings.Contains(rel, "..") || !validComponent(revision) {
		return "", "", fmt.Errorf("store: unsafe file path %q", rel)
	}
	return filepath.Join(s.filesDir(), filepath.FromSlash(rel)), "files/" + rel, nil
}

// Lock takes the store's exclusive lock (blocking) and returns its
// release function. Errors: the lock file cannot be created.
func (s *Store) Lock() (func(), error) {
	l := flock.New(filepath.Join(s.Root, ".lock"))
	if err := l.Lock(); err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	return func() { l.Unlock() }, nil
}

// Get returns the manifest of name. Errors: ErrNotFound (wrapped) if the
// store has no such model, a corrupt manifest.
func (s *Store) Get(name string) (*Manifest, error) {
	n, err := ParseName(name)
	if err != nil {
		return nil, err
	}
	return s.get(n)
}

// ErrNotFound is returned (wrapped) for a name the store does not hold.
var ErrNotFound = errors.New("model not found")

func (s *Store) get(n Name) (*Manifest, error) {
	p := filepath.Join(s.manifestDir(), filepath.FromSlash(n.manifestRel()))
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) && n.Tag == "" {
		return s.getDefault(n)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: %s: %w (pull it with `dseek pull %s`)", n, ErrNotFound, n)
	}
	if err != nil {
		return nil, err
	}
	return decodeManifest(p, b)
}

// ErrCorrupt is returned (wrapped) for a manifest that does not decode or
// names files outside the store's files/ directory.
var ErrCorrupt = errors.New("corrupt manifest")

// decodeManifest decodes the manifest file p and checks its paths: every
// file and the model must be clean, relative, slash-separated paths under
// files/ (Remove deletes them; a hand-edited or damaged manifest naming
// "../x" used to make `dseek rm` delete files outside the store).
func decodeManifest(p string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("store: %w %s: %v", ErrCorrupt, p, err)
	}
	paths := []string{m.Model}
	for _, f := range m.Files {
		paths = append(paths, f.Path)
	}
	for _, q := range paths {
		if !storePath(q) {
			return nil, fmt.Errorf("store: %w %s: path %q is not under files/", ErrCorrupt, p, q)
		}
	}
	return &m, nil
}

// storePath reports whether p is a clean slash-separated path below files/.
func storePath(p string) bool {
	rest, ok := strings.CutPrefix(p, "files/")
	return ok && rest != "" && path.Clean(p) == p && !strings.Contains(p, "..") &&
		!strings.Contains(p, "\\") && !strings.Contains(p, ":")
}

// getDefault picks the manifest of a name given without a tag: Q4_K_M if
// stored, else the only one.
func (s *Store) getDefault(n Name) (*Manifest, error) {
	dir := filepath.Dir(filepath.Join(s.manifestDir(), filepath.FromSlash(n.manifestRel())))
	ents, _ := os.ReadDir(dir)
	var tags []string
	for _, e := range ents {
		if t, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() {
			tags = append(tags, t)
		}
	}
	pick := ""
	for _, t := range tags {
		if t == "Q4_K_M" {
			pick = t
		}
	}
	if pick == "" && len(tags) == 1 {
		pick = tags[0]
	}
	if pick == "" {
		if len(tags) == 0 {
			return nil, fmt.Errorf("store: %s: %w (pull it with `dseek pull %s`)", n, ErrNotFound, n)
		}
		return nil, fmt.Errorf("store: %s is ambiguous, stored tags: %s", n, strings.Join(tags, ", "))
	}
	n.Tag = pick
	return s.get(n)
}

// List returns every readable manifest, sorted by name. A manifest that
// cannot be read does not stop the listing: the error (ErrCorrupt, wrapped
// and joined, one per bad file) comes back with the others.
func (s *Store) List() ([]*Manifest, error) {
	out := []*Manifest{} // an empty store lists as [], not null, in JSON
	var bad []error
	if _, err := os.Stat(s.manifestDir()); errors.Is(err, os.ErrNotExist) {
		return out, nil // no store (yet): nothing to list
	}
	err := filepath.WalkDir(s.manifestDir(), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		m, err := decodeManifest(p, b)
		if err != nil {
			bad = append(bad, err) // keep listing the others
			return nil
		}
		out = append(out, m)
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(append([]error{err}, bad...)...)
}
