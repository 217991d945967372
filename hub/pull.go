package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/store"
)

// PullOptions tunes Pull.
type PullOptions struct {
	Revision string          // branch, tag or commit; "" = "main"
	Download DownloadOptions // per-file transfer settings
	// OnFile, if set, is called before each file is fetched with its
	// repository path, its size and the bytes already present; the
	// returned function receives the bytes as they arrive.
	OnFile func(path string, size, have int64) func(n int64)
	// Log, if set, receives one-line status messages.
	Log func(msg string)
}

func (o *PullOptions) log(format string, a ...any) {
	if o.Log != nil {
		o.Log(fmt.Sprintf(format, a...))
	}
}

// target is what a name resolves to on the hub.
type target struct {
	name  store.Name // name the manifest is stored under
	files store.Name // hf.co/ORG/REPO, for file paths
	repo  string
	tag   string // quantization or file requested ("" = default)
}

func resolveTarget(nameStr string) (target, error) {
	n, err := store.ParseName(nameStr)
	if err != nil {
		return target{}, err
	}
	t := target{name: n, repo: n.Repo, tag: n.Tag}
	if !n.IsRepo() {
		if t.repo, t.tag, err = ResolveAlias(n); err != nil {
			return target{}, err
		}
	}
	t.files = store.Name{Host: "hf.co", Repo: t.repo}
	return t, nil
}

// Pull downloads the model nameStr (hf.co/ORG/REPO[:QUANT|:FILE.gguf] or an
// alias, see Aliases) into st and records its manifest: revision → commit,
// repository tree, the files of the requested quantization (every part of
// a split GGUF), a free-space check, resumable verified downloads, then an
// atomic install. A model already complete in the store is not downloaded
// again. Errors: unknown alias, *StatusError (401 gated/private, 403, 404),
// missing quantization (listing those present), not enough disk space,
// ErrChecksum, ctx cancelled (partial data is kept for the next Pull).
func Pull(ctx context.Context, c *Client, st *store.Store, nameStr string, opt PullOptions) (*store.Manifest, error) {
	t, err := resolveTarget(nameStr)
	if err != nil {
		return nil, err
	}
	rev := opt.Revision
	if rev == "" {
		rev = "main"
	}
	commit, err := c.Revision(ctx, t.repo, rev)
	if err != nil {
		return nil, err
	}
	tree, err := c.Tree(ctx, t.repo, commit)
	if err != nil {
		return nil, err
	}
	files, quant, err := Pick(t.repo, tree, t.tag)
	if err != nil {
		return nil, err
	}
	if t.name.IsRepo() && t.name.Tag == "" {
		t.name.Tag = quant
		if quant == "" {
			t.name.Tag = strings.TrimSuffix(path.Base(files[0].Path), ".gguf")
		}
	}
	opt.log("pulling %s from %s@%s: %d file(s)", t.name, t.repo, short(commit), len(files))
	m := &store.Manifest{Name: t.name.String(), Quant: quant,
		Source: store.Source{Hub: c.Endpoint, Repo: t.repo, Revision: commit, Tag: t.tag}}
	if err := fetchAll(ctx, c, st, t, commit, files, m, opt); err != nil {
		return nil, err
	}
	describe(st, m)
	unlock, err := st.Lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := st.Put(m); err != nil {
		return nil, err
	}
	return m, nil
}

func short(s string) string { return s[:min(len(s), 12)] }

// fetchAll checks the space needed, then downloads and installs each file.
func fetchAll(ctx context.Context, c *Client, st *store.Store, t target, commit string, files []Entry, m *store.Manifest, opt PullOptions) error {
	var need int64
	dests := make([]string, len(files))
	for i, f := range files {
		dest, rel, err := st.FilePath(t.files, commit, f.Path)
		if err != nil {
			return err
		}
		dests[i] = dest
		m.Files = append(m.Files, store.File{Path: rel, Repo: f.Path, Size: f.Size, SHA256: f.SHA256})
		m.Size += f.Size
		if i == 0 {
			m.Model = rel
		}
		if !present(dest, f.Size) {
			need += f.Size - partialBytes(st, f)
		}
	}
	if free, ok := freeBytes(st.TmpDir()); ok && need > free {
		return fmt.Errorf("hub: not enough disk space for %s: %s to download, %s free in %s", t.name, human(need), human(free), st.Root)
	}
	for i, f := range files {
		if present(dests[i], f.Size) {
			opt.log("%s: already in the store", f.Path)
			continue
		}
		if err := fetchOne(ctx, c, st, t.repo, commit, f, dests[i], opt); err != nil {
			return err
		}
	}
	return nil
}

func present(p string, size int64) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Size() == size
}

// partName is the partial file of a repository object in tmp/.
func partName(st *store.Store, f Entry) string {
	id := f.SHA256
	if id == "" {
		id = strings.NewReplacer("/", "_", "\\", "_").Replace(f.Path)
	}
	return filepath.Join(st.TmpDir(), id+".part")
}

// partialBytes estimates the bytes a partial download already holds.
func partialBytes(st *store.Store, f Entry) int64 {
	b, err := os.ReadFile(partName(st, f) + ".json")
	if err != nil {
		return 0
	}
	var ps partState
	if json.Unmarshal(b, &ps) != nil || ps.SHA256 != f.SHA256 {
		return 0
	}
	var n int64
	for _, d := range ps.Done {
		n += d
	}
	return min(n, f.Size)
}

// fetchOne downloads one file under a per-object lock (another dseek
// pulling the same object waits, then finds it installed) and installs it.
func fetchOne(ctx context.Context, c *Client, st *store.Store, repo, commit string, f Entry, dest string, opt PullOptions) error {
	part := partName(st, f)
	lk := flock.New(st.LockFile(filepath.Base(part)))
	if ok, err := lk.TryLockContext(ctx, 200*time.Millisecond); err != nil || !ok {
		return fmt.Errorf("hub: waiting for another pull of %s: %w", f.Path, err)
	}
	defer lk.Unlock()
	if present(dest, f.Size) {
		return nil
	}
	dopt := opt.Download
	if opt.OnFile != nil {
		dopt.Progress = opt.OnFile(f.Path, f.Size, partialBytes(st, f))
	}
	if err := c.Download(ctx, c.ResolveURL(repo, commit, f.Path), f.Size, f.SHA256, part, dopt); err != nil {
		return err
	}
	unlock, err := st.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	return st.Install(part, dest)
}

// describe fills Arch and Quant from the GGUF header (best effort).
func describe(st *store.Store, m *store.Manifest) {
	f, err := gguf.Open(st.ModelPath(m))
	if err != nil {
		return
	}
	defer f.Close()
	m.Arch = f.Architecture()
	if ft, err := f.Uint("general.file_type"); err == nil {
		if s := quantize.FileType(ft).String(); !strings.HasPrefix(s, "FileType(") {
			m.Quant = s
		}
	}
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
