package server

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/sampler"
)

// TestLogitBias: logit_bias is added to the logits before sampling, greedy
// included: -100 on the greedy token makes the next best one win (as the
// sampler picks it from the model's logits), +100 on a token makes every
// step pick it, on /v1/completions and /v1/chat/completions. Malformed
// biases are 400s naming logit_bias.
func TestLogitBias(t *testing.T) {
	ts := startServer(t, "ds3-tiny-Q4_K_M.gguf", engine.SchedulerOptions{PrefixCacheBytes: -1}, Options{})
	tok := ts.e.Tokenizer
	prompt := "The capital of France is"
	ids := tok.Encode(prompt, true, true)
	seq := ts.e.NewSequence()
	logits, err := seq.Eval(t.Context(), ids, false)
	if err != nil {
		t.Fatal(err)
	}
	greedy, _ := sampler.New(sampler.Params{}).Sample(logits)
	banned := slices.Clone(logits)
	banned[greedy] -= 100
	second, _ := sampler.New(sampler.Params{}).Sample(banned)
	seq.Close()
	if second == greedy {
		t.Fatal("the bias did not change the sampler's choice")
	}
	first := func(bias map[string]any) string {
		t.Helper()
		code, resp := ts.post("/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 1, "temperature": 0, "logprobs": 0, "logit_bias": bias})
		if code != 200 {
			t.Fatalf("status %d: %v", code, resp)
		}
		toks := resp["choices"].([]any)[0].(map[string]any)["logprobs"].(map[string]any)["tokens"].([]any)
		return toks[0].(string)
	}
	if got, want := first(nil), jsonText(string(tok.Piece(greedy, true))); got != want {
		t.Fatalf("no bias: first token %q, want the greedy %q", got, want)
	}
	if got, want := first(map[string]any{strconv.Itoa(int(greedy)): -100}), jsonText(string(tok.Piece(second, true))); got != want {
		t.Errorf("greedy token banned: first token %q, want the runner-up %q", got, want)
	}

	z := tok.Encode("Z", false, false)
	if len(z) != 1 {
		t.Fatalf("Z is %d tokens", len(z))
	}
	force := map[string]any{strconv.Itoa(int(z[0])): 100}
	_, resp := ts.post("/v1/completions", map[string]any{"prompt": prompt, "max_tokens": 5, "temperature": 1, "seed": 3, "logit_bias": force})
	if got := str(resp["choices"].([]any)[0].(map[string]any), "text"); got != "ZZZZZ" {
		t.Errorf("completions with +100 on Z: %q, want ZZZZZ", got)
	}
	_, resp = ts.post("/v1/chat/completions", map[string]any{"messages": userMsgs("Hi"), "max_tokens": 5, "temperature": 0,
		"thinking": map[string]any{"type": "disabled"}, "logit_bias": force})
	msg := resp["choices"].([]any)[0].(map[string]any)["message"].(map[string]any)
	if got := str(msg, "reasoning_content") + str(msg, "content"); got != "ZZZZZ" {
		t.Errorf("chat with +100 on Z: %q, want ZZZZZ", got)
	}

	for _, bias := range []string{`{"x": "NaN"}`, `{"x": 1}`, `{"5": "NaN"}`, `{"5": 100.5}`, `{"5": -101}`, `{"5": 1e999}`,
		`{"-5": 1}`, `{"999999": 1}`, `{"` + strconv.Itoa(ts.e.Model.Config.NVocab) + `": 1}`, `[1, 2]`, `"bias"`} {
		for _, c := range []struct{ path, body string }{
			{"/v1/completions", `{"prompt": "x", "logit_bias": ` + bias + `}`},
			{"/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}], "logit_bias": ` + bias + `}`},
		} {
			code, resp := ts.post(c.path, c.body)
			e, _ := resp["error"].(map[string]any)
			if code != 400 || e == nil || e["param"] != "logit_bias" || !strings.Contains(str(e, "message"), "logit_bias") {
				t.Errorf("%s with logit_bias %s: %d %v, want a 400 naming logit_bias", c.path, bias, code, resp)
			}
		}
	}
}
