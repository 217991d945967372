package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/internal/fixtures"
)

// BenchmarkServeConcurrent drives the HTTP server on loopback with N
// concurrent streaming chat clients (greedy, 32 tokens each, distinct
// prompts, prefix cache off so every prompt is prefilled) on the ds3-tiny
// fixture (MLA + MoE, R1 template), with --parallel 16. It reports the
// aggregate generated tokens per second over all clients and the 50th and
// 99th percentile time to first token (first reasoning or content delta).
func BenchmarkServeConcurrent(b *testing.B) {
	dir, err := fixtures.Dir()
	if err != nil {
		b.Fatal(err)
	}
	e, err := engine.Load(context.Background(), filepath.Join(dir, "models", "ds3-tiny-Q4_K_M.gguf"), engine.Options{CtxSize: 8192})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, n := range []int{1, 4, 16, 64} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			sched, err := engine.NewScheduler(e, engine.SchedulerOptions{Parallel: 16, MaxQueue: 64, PrefixCacheBytes: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer sched.Shutdown(context.Background())
			srv, err := New(e, sched, Options{})
			if err != nil {
				b.Fatal(err)
			}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
			var ttfts []time.Duration
			tokens := 0
			for b.Loop() {
				t, k := benchRound(b, client, hs.URL, n)
				ttfts = append(ttfts, t...)
				tokens += k
			}
			slices.Sort(ttfts)
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tok/s")
			b.ReportMetric(ms(percentile(ttfts, 0.50)), "ttft_p50_ms")
			b.ReportMetric(ms(percentile(ttfts, 0.99)), "ttft_p99_ms")
		})
	}
}

// benchRound runs n clients at once and returns their times to first token
// and the tokens they received.
func benchRound(b *testing.B, client *http.Client, url string, n int) ([]time.Duration, int) {
	var mu sync.Mutex
	var ttfts []time.Duration
	tokens := 0
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ttft, k, err := benchClient(client, url, i)
			if err != nil {
				b.Error(err)
				return
			}
			mu.Lock()
			ttfts, tokens = append(ttfts, ttft), tokens+k
			mu.Unlock()
		})
	}
	wg.Wait()
	return ttfts, tokens
}

// benchClient streams one chat completion and returns its time to first
// token and its completion token count.
func benchClient(client *http.Client, url string, i int) (time.Duration, int, error) {
	body, _ := json.Marshal(map[string]any{
		"messages":   userMsgs(fmt.Sprintf("Client %d asks question number %d about batching.", i, i*7+1)),
		"max_tokens": 32, "temperature": 0, "stream": true, "stream_options": map[string]any{"include_usage": true},
	})
	start := time.Now()
	resp, err := client.Post(url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	var ttft time.Duration
	tokens := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		if ttft == 0 && (strings.Contains(data, `"reasoning_content"`) || strings.Contains(data, `"content":"`) && !strings.Contains(data, `"role"`)) {
			ttft = time.Since(start)
		}
		var c struct {
			Usage *struct {
				CompletionTokens int `json:"completion_tokens"`
			} `json:"usage"`
		}
		if json.Unmarshal([]byte(data), &c) == nil && c.Usage != nil {
			tokens = c.Usage.CompletionTokens
		}
	}
	return ttft, tokens, sc.Err()
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
