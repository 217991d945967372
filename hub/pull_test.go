package hub

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/store"
)

// makeGGUF returns a valid GGUF of arch qwen2 with general.file_type ft and
// one F32 tensor of n floats of random data; split > 0 makes it part
// no of split parts.
func makeGGUF(t *testing.T, ft uint32, n int, no, split int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	w.AddKV("general.architecture", "qwen2")
	w.AddKV("general.file_type", ft)
	if split > 0 {
		w.AddKV(gguf.KeySplitNo, uint16(no))
		w.AddKV(gguf.KeySplitCount, uint16(split))
		w.AddKV(gguf.KeySplitTensorsCount, int32(split))
	}
	name := "t" + string(rune('a'+no))
	w.AddTensor(name, dtype.F32, []uint64{uint64(n)})
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4*n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	if err := w.WriteTensorData(name, data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type fixture struct {
	hub    *fakeHub
	st     *store.Store
	q4, q8 []byte
}

func setup(t *testing.T) *fixture {
	h := newFakeHub(t)
	f := &fixture{hub: h, q4: makeGGUF(t, 15, 150_000, 0, 0, 1), q8: makeGGUF(t, 7, 90_000, 0, 0, 2)}
	h.addRepo("org/model-GGUF", false, map[string][]byte{
		"README.md":            []byte("# model"),
		"model-Q4_K_M.gguf":    f.q4,
		"model-Q8_0.gguf":      f.q8,
		"model-Q4_K_M.imatrix": []byte("x"),
	})
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	return f
}

var fast = PullOptions{Download: DownloadOptions{Backoff: time.Millisecond}}

func (f *fixture) checkStored(t *testing.T, name string, want []byte) *store.Manifest {
	t.Helper()
	p, err := f.st.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: stored file differs from the hub's", name)
	}
	m, err := f.st.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPullDefaultQuant(t *testing.T) {
	f := setup(t)
	m, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", fast)
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "hf.co/org/model-GGUF:Q4_K_M" || m.Quant != "Q4_K_M" || m.Arch != "qwen2" || m.Size != int64(len(f.q4)) {
		t.Errorf("manifest %+v", m)
	}
	if m.Source.Revision != f.hub.repos["org/model-GGUF"].commit || m.Files[0].SHA256 != sum(f.q4) {
		t.Errorf("source %+v files %+v", m.Source, m.Files)
	}
	f.checkStored(t, "hf.co/org/model-GGUF:Q4_K_M", f.q4)
	f.checkStored(t, "hf.co/org/model-GGUF", f.q4) // no tag: the Q4_K_M one
	if _, err := Pull(context.Background(), f.hub.client(""), f.st, "huggingface.co/org/model-GGUF:q8_0", fast); err != nil {
		t.Fatal(err)
	}
	f.checkStored(t, "hf.co/org/model-GGUF:Q8_0", f.q8)
	list, err := f.st.List()
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %d models, %v", len(list), err)
	}
	// A second pull of a complete model downloads nothing.
	_, before := f.hub.stats()
	if _, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF:Q8_0", fast); err != nil {
		t.Fatal(err)
	}
	if _, after := f.hub.stats(); after != before {
		t.Errorf("re-pull downloaded %d bytes", after-before)
	}
}

func TestPullQuantNotFound(t *testing.T) {
	f := setup(t)
	_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF:Q6_K", fast)
	if err == nil || !strings.Contains(err.Error(), "no Q6_K") || !strings.Contains(err.Error(), "Q4_K_M, Q8_0") {
		t.Errorf("err = %v", err)
	}
}

func TestPullRepoNotFound(t *testing.T) {
	f := setup(t)
	_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/nope", fast)
	if !isStatus(err, 404) || !strings.Contains(err.Error(), "not found") {
		t.Errorf("err = %v", err)
	}
}

func TestPullGated(t *testing.T) {
	f := setup(t)
	f.hub.addRepo("corp/gated-GGUF", true, map[string][]byte{"g-Q4_K_M.gguf": f.q4})
	_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/corp/gated-GGUF", fast)
	if !isStatus(err, 401) || !strings.Contains(err.Error(), "HF_TOKEN") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Pull(context.Background(), f.hub.client("good-token"), f.st, "hf.co/corp/gated-GGUF", fast); err != nil {
		t.Fatal(err)
	}
	f.checkStored(t, "hf.co/corp/gated-GGUF", f.q4)
	if f.hub.cdnAuth != 0 {
		t.Errorf("the token was sent to the CDN %d times", f.hub.cdnAuth)
	}
}

// TestPullRetriesCutConnection: the CDN drops the connection twice mid-body;
// the pull continues with Range requests from where each stopped.
func TestPullRetriesCutConnection(t *testing.T) {
	f := setup(t)
	f.hub.cutAfter[sum(f.q4)] = []int64{100_000, 50_000}
	if _, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", fast); err != nil {
		t.Fatal(err)
	}
	f.checkStored(t, "hf.co/org/model-GGUF", f.q4)
	ranges, served := f.hub.stats()
	if len(ranges) != 3 || ranges[1] != "bytes=100000-599" && !strings.HasPrefix(ranges[1], "bytes=100000-") || !strings.HasPrefix(ranges[2], "bytes=150000-") {
		t.Errorf("ranges %v", ranges)
	}
	if served != int64(len(f.q4)) {
		t.Errorf("served %d bytes for a %d-byte file", served, len(f.q4))
	}
}

// TestPullResumesAfterCancel: a pull killed half-way leaves nothing the
// store would load; the next pull resumes from the partial file.
func TestPullResumesAfterCancel(t *testing.T) {
	f := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	opt := fast
	opt.Download.ChunkSize = 64 << 10
	opt.Download.Parallel = 2
	var got int64
	opt.OnFile = func(string, int64, int64) func(int64) {
		return func(n int64) {
			if got += n; got > int64(len(f.q4))/2 {
				cancel()
			}
		}
	}
	if _, err := Pull(ctx, f.hub.client(""), f.st, "hf.co/org/model-GGUF", opt); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := f.st.Resolve("hf.co/org/model-GGUF"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("interrupted pull is loadable: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.st.Root, "files")); len(ents) != 0 {
		t.Errorf("files/ not empty after an interrupted pull")
	}
	_, first := f.hub.stats()
	var have int64
	opt.OnFile = func(_ string, _, h int64) func(int64) { have = h; return nil }
	if _, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", opt); err != nil {
		t.Fatal(err)
	}
	f.checkStored(t, "hf.co/org/model-GGUF", f.q4)
	_, total := f.hub.stats()
	if have == 0 || total-first > int64(len(f.q4))-have+2*opt.Download.ChunkSize {
		t.Errorf("resume: had %d bytes, second pull fetched %d of %d", have, total-first, len(f.q4))
	}
	if ents, _ := os.ReadDir(f.st.TmpDir()); len(ents) != 0 {
		t.Errorf("tmp/ not empty after a complete pull: %v", ents)
	}
}

// TestPullCorrupt: bytes that fail the sha256 check leave nothing behind.
func TestPullCorrupt(t *testing.T) {
	f := setup(t)
	f.hub.corrupt[sum(f.q4)] = true
	_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", fast)
	if !errors.Is(err, ErrChecksum) {
		t.Fatalf("err = %v", err)
	}
	if _, err := f.st.Resolve("hf.co/org/model-GGUF"); err == nil {
		t.Error("corrupt model is in the store")
	}
	for _, d := range []string{"files", "tmp"} {
		if ents, _ := os.ReadDir(filepath.Join(f.st.Root, d)); len(ents) != 0 {
			t.Errorf("%s/ not empty: %v", d, ents)
		}
	}
}

func TestPullSplitParallel(t *testing.T) {
	f := setup(t)
	p1, p2 := makeGGUF(t, 15, 70_000, 0, 2, 3), makeGGUF(t, 15, 60_000, 1, 2, 4)
	f.hub.addRepo("org/big-GGUF", false, map[string][]byte{
		"Q4_K_M/big-Q4_K_M-00001-of-00002.gguf": p1,
		"Q4_K_M/big-Q4_K_M-00002-of-00002.gguf": p2,
		"big-Q8_0.gguf":                         f.q8,
	})
	opt := fast
	opt.Download.ChunkSize, opt.Download.Parallel = 32<<10, 4
	m, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/big-GGUF:Q4_K_M", opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Files) != 2 || !strings.HasSuffix(m.Model, "00001-of-00002.gguf") {
		t.Fatalf("manifest files %+v model %s", m.Files, m.Model)
	}
	p, err := f.st.Resolve(m.Name)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if len(g.Tensors) != 2 {
		t.Errorf("split model opened with %d tensors", len(g.Tensors))
	}
	ranges, _ := f.hub.stats()
	if len(ranges) < 8 {
		t.Errorf("only %d range requests for 32 KiB chunks", len(ranges))
	}
}

// failingPart returns ENOSPC once limit bytes were written.
type failingPart struct {
	*os.File
	limit int64
}

func (p *failingPart) WriteAt(b []byte, off int64) (int, error) {
	if p.limit -= int64(len(b)); p.limit < 0 {
		return 0, &os.PathError{Op: "write", Path: p.Name(), Err: syscall.ENOSPC}
	}
	return p.File.WriteAt(b, off)
}

func TestDiskFull(t *testing.T) {
	f := setup(t)
	opt := fast
	opt.Download.openPart = func(p string) (partFile, error) {
		fh, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		return &failingPart{File: fh, limit: 200_000}, err
	}
	_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", opt)
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	// The partial download is kept and the next pull completes it.
	if _, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", fast); err != nil {
		t.Fatal(err)
	}
	f.checkStored(t, "hf.co/org/model-GGUF", f.q4)
}

func TestNotEnoughSpace(t *testing.T) {
	f := setup(t)
	free, ok := freeBytes(f.st.TmpDir())
	if !ok {
		t.Fatal("free space unknown on this system")
	}
	h := f.hub
	h.addRepo("org/huge-GGUF", false, map[string][]byte{"huge-Q4_K_M.gguf": f.q4})
	// Claim a size beyond the free space through a tree override.
	c := h.client("")
	tree, err := c.Tree(context.Background(), "org/huge-GGUF", "main")
	if err != nil {
		t.Fatal(err)
	}
	tree[0].Size = free + 1<<30
	target := target{name: store.Name{Host: "hf.co", Repo: "org/huge-GGUF", Tag: "Q4_K_M"}, files: store.Name{Host: "hf.co", Repo: "org/huge-GGUF"}, repo: "org/huge-GGUF"}
	err = fetchAll(context.Background(), c, f.st, target, h.repos["org/huge-GGUF"].commit, tree, &store.Manifest{}, fast)
	if err == nil || !strings.Contains(err.Error(), "not enough disk space") {
		t.Errorf("err = %v", err)
	}
}

func TestAliases(t *testing.T) {
	for in, want := range map[string][2]string{
		"deepseek-r1:1.5b":       {"unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF", ""},
		"deepseek-r1:7b-q8_0":    {"unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF", "Q8_0"},
		"deepseek-v2-lite":       {"mradermacher/DeepSeek-V2-Lite-Chat-GGUF", ""},
		"deepseek-v2-lite:q6_k":  {"mradermacher/DeepSeek-V2-Lite-Chat-GGUF", "Q6_K"},
		"deepseek-coder-v2-lite": {"bartowski/DeepSeek-Coder-V2-Lite-Instruct-GGUF", ""},
	} {
		n, err := store.ParseName(in)
		if err != nil {
			t.Fatal(err)
		}
		repo, q, err := ResolveAlias(n)
		if err != nil || repo != want[0] || q != want[1] {
			t.Errorf("%s -> %s %s %v, want %v", in, repo, q, err, want)
		}
	}
	n, _ := store.ParseName("deepseek-r1:3b")
	if _, _, err := ResolveAlias(n); err == nil || !strings.Contains(err.Error(), "deepseek-r1:1.5b") {
		t.Errorf("unknown alias: %v", err)
	}
}

func TestPickNames(t *testing.T) {
	tree := []Entry{{Path: "DeepSeek-V2-Lite-Chat.Q4_K_M.gguf"}, {Path: "DeepSeek-V2-Lite-Chat.Q8_0.gguf"},
		{Path: "UD-Q2_K_XL/DeepSeek-R1-UD-Q2_K_XL-00001-of-00002.gguf"}, {Path: "mmproj-F16.gguf"}}
	if fs, q, err := Pick("r", tree, ""); err != nil || q != "Q4_K_M" || fs[0].Path != tree[0].Path {
		t.Errorf("default: %v %s %v", fs, q, err)
	}
	if _, _, err := Pick("r", tree, "Q2_K_XL"); err == nil || !strings.Contains(err.Error(), "1 of its 2 parts") {
		t.Errorf("incomplete split: %v", err)
	}
	if fs, _, err := Pick("r", tree, "DeepSeek-V2-Lite-Chat.Q8_0.gguf"); err != nil || fs[0].Path != tree[1].Path {
		t.Errorf("by file: %v %v", fs, err)
	}
}

// TestConcurrentPulls: two pulls of the same model at once download it
// once (the second waits on the per-object lock, then finds it installed).
func TestConcurrentPulls(t *testing.T) {
	f := setup(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := Pull(context.Background(), f.hub.client(""), f.st, "hf.co/org/model-GGUF", fast)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	f.checkStored(t, "hf.co/org/model-GGUF", f.q4)
	if _, served := f.hub.stats(); served != int64(len(f.q4)) {
		t.Errorf("served %d bytes for one %d-byte file", served, len(f.q4))
	}
}
