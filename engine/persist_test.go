package engine

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/dseek-ai/dseek/internal/fixtures"
)

// runOnce submits one request and returns its ids and final event.
func runOnce(t *testing.T, s *Scheduler, prompt []int32, maxTokens int) ([]int32, Event) {
	t.Helper()
	st, err := s.Submit(t.Context(), Request{Prompt: prompt, MaxTokens: maxTokens})
	if err != nil {
		t.Fatal(err)
	}
	ids, _, ev := collect(t, st)
	return ids, ev
}

// prefixFile returns the only cache file in dir.
func prefixFile(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "prefix-*.dskv"))
	if len(m) != 1 {
		t.Fatalf("cache files in %s: %v, want one", dir, m)
	}
	return m[0]
}

// TestPrefixCachePersists: the prefix cache saved at Shutdown is loaded by
// a new engine and scheduler (a restart), served as cache hits, and gives
// the same tokens as computing from scratch. Damaged files are rejected
// without harm.
func TestPrefixCachePersists(t *testing.T) {
	name := splitModels[1]
	dir := t.TempDir()
	prompt := schedPrompts(schedEngine(t, name, 1024), 1)[0]
	e1 := schedEngine(t, name, 1024)
	want := referenceGreedy(t, e1, prompt, 8)
	s1 := newSched(t, e1, SchedulerOptions{CacheDir: dir})
	runOnce(t, s1, prompt, 8)
	if err := s1.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	path := prefixFile(t, dir)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	restart := func(t *testing.T, data []byte) (*Scheduler, []int32, Event) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		e := schedEngine(t, name, 1024)
		s := newSched(t, e, SchedulerOptions{CacheDir: dir})
		ids, ev := runOnce(t, s, prompt, 8)
		if !slices.Equal(ids, want) {
			t.Errorf("after restart %v, from scratch %v", ids, want)
		}
		return s, ids, ev
	}
	t.Run("intact", func(t *testing.T) {
		_, _, ev := restart(t, good)
		if ev.Usage.CachedTokens != len(prompt)-1 {
			t.Errorf("cached %d tokens, want %d", ev.Usage.CachedTokens, len(prompt)-1)
		}
	})
	damaged := map[string][]byte{
		"flipped-row-byte": flip(good, len(good)-100),
		"flipped-token":    flip(good, prefixHeaderSize+6),
		"truncated":        good[:len(good)/2],
		"empty":            nil,
		"garbage":          bytes.Repeat([]byte{0xA5}, 4096),
		"wrong-model":      flip(good, 40), // a fingerprint byte
		"huge-count":       withCount(good, 1<<31),
	}
	for name, data := range damaged {
		t.Run(name, func(t *testing.T) {
			_, _, ev := restart(t, data)
			if ev.Usage.CachedTokens != 0 {
				t.Errorf("cached %d tokens from a damaged file", ev.Usage.CachedTokens)
			}
		})
	}
}

// fixtureModelPath is the path of a fixture model.
func fixtureModelPath(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := fixtures.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(dir, "models", name)
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x40
	return c
}

func withCount(b []byte, n uint32) []byte {
	c := slices.Clone(b)
	c[24], c[25], c[26], c[27] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
	return c
}

// FuzzPrefixFile: reading any bytes as a prefix cache file never panics,
// and whatever it loads has consistent bookkeeping.
func FuzzPrefixFile(f *testing.F) {
	e, err := Load(context.Background(), fixtureModelPath(f, "qwen2-tiny-Q4_K_M.gguf"), Options{CtxSize: 512})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	s := &Scheduler{e: e, opt: SchedulerOptions{MaxSeqLen: 512}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.prefix = newPrefixCache(0, e.Cache.Config().BytesPerToken())
	fp, err := e.modelFingerprint()
	if err != nil {
		f.Fatal(err)
	}
	// Seed: a valid file with one entry.
	seq := e.NewSequence()
	if _, err := seq.Eval(context.Background(), []int32{1, 2, 3, 4, 5}, false); err != nil {
		f.Fatal(err)
	}
	s.prefix.add([]int32{1, 2, 3, 4, 5}, seq.id)
	var buf bytes.Buffer
	if err := s.writePrefixFile(&buf, fp); err != nil {
		f.Fatal(err)
	}
	s.prefix = newPrefixCache(0, e.Cache.Config().BytesPerToken())
	seq.Close()
	f.Add(buf.Bytes())
	f.Add([]byte(prefixFileMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, _ := s.readPrefixFile(bytes.NewReader(data), fp)
		if n != len(s.prefix.entries) {
			t.Fatalf("loaded %d, %d entries", n, len(s.prefix.entries))
		}
		for s.prefix.evictLRU(e.Cache, nil) {
		}
		if e.Cache.UsedPages() != 0 {
			t.Fatalf("%d pages leaked", e.Cache.UsedPages())
		}
	})
}
