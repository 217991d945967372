package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentEncode runs Encode from several goroutines on one
// tokenizer (shared word cache) and checks every result against a
// sequential run.
func TestConcurrentEncode(t *testing.T) {
	tk := loadGGUF(t, "models/ds3-tiny-F16.gguf")
	texts := randomTexts(21, 400, 20)
	want := make([][]int32, len(texts))
	for i, s := range texts {
		want[i] = tk.Encode(s, true, true)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range texts {
				j := (i + g*97) % len(texts)
				if got := tk.Encode(texts[j], true, true); !slices.Equal(got, want[j]) {
					t.Errorf("goroutine %d, %q: %v want %v", g, texts[j], got, want[j])
					return
				}
			}
		}()
	}
	wg.Wait()
}
