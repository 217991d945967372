package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
)

// withKV copies the GGUF src to a temporary file with the metadata key set
// to value (added if absent) and returns its path.
func withKV(t *testing.T, src, key string, value any) string {
	t.Helper()
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(t.TempDir(), filepath.Base(src))
	o, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	w := gguf.NewWriter(o)
	set := false
	for _, kv := range f.KVs {
		v := kv.Value
		if kv.Key == key {
			v, set = value, true
		}
		if err := w.AddKV(kv.Key, v); err != nil {
			t.Fatal(err)
		}
	}
	if !set {
		if err := w.AddKV(key, value); err != nil {
			t.Fatal(err)
		}
	}
	for _, ti := range f.Tensors {
		if err := w.AddTensor(ti.Name, ti.Type, ti.Dims); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.WriteHeader(); err != nil {
		t.Fatal(err)
	}
	for i := range f.Tensors {
		b, err := f.TensorData(&f.Tensors[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteTensorData(f.Tensors[i].Name, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTemplateMessagesInput: role developer renders as system (as the API
// maps it), --messages - reads stdin, and a JSON object instead of an array
// is a clear error rather than json's Go type names ([]main.wireMessage).
func TestTemplateMessagesInput(t *testing.T) {
	model := fixture(t, "models/ds3-tiny-Q4_K_M.gguf")
	sys, _, err := dseekOutErr(t, `[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]`, "template", "-m", model, "--messages", "-")
	if err != nil || !strings.Contains(sys, "be brief") {
		t.Fatalf("--messages - with a system message: %v %q", err, sys)
	}
	dev, _, err := dseekOutErr(t, `[{"role":"developer","content":"be brief"},{"role":"user","content":"hi"}]`, "template", "-m", model, "--messages", "-")
	if err != nil || dev != sys {
		t.Errorf("developer role: %v\n%q\nwant the system rendering\n%q", err, dev, sys)
	}
	for in, want := range map[string]string{
		`{"role":"user","content":"hi"}`: "--messages: want a JSON array of messages, got an object",
		`"hi"`:                           "--messages: want a JSON array of messages, got a string",
		`[{"role":"user"`:                "--messages: not valid JSON",
		`["hi"]`:                         "messages[0]: want an object",
		`[{"role":5}]`:                   "messages[0]: role: unexpected JSON number",
		`[{"role":"robot"}]`:             `messages[0].role "robot"`,
	} {
		_, _, err := dseekOutErr(t, in, "template", "-m", model, "--messages", "-")
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "main.") {
			t.Errorf("--messages %s: err = %v, want it to say %q", in, err, want)
		}
	}
	_, _, err = dseekOutErr(t, `{"type":"function"}`, "template", "-m", model, "--messages", "-", "--tools", "-")
	if err == nil || !strings.Contains(err.Error(), "both read stdin") {
		t.Errorf("--messages - --tools -: %v", err)
	}
	msgs := filepath.Join(t.TempDir(), "m.json")
	os.WriteFile(msgs, []byte(`[{"role":"user","content":"hi"}]`), 0o644)
	_, _, err = dseekOutErr(t, `{"type":"function"}`, "template", "-m", model, "--messages", msgs, "--tools", "-")
	if err == nil || !strings.Contains(err.Error(), "--tools: want a JSON array of tools, got an object") {
		t.Errorf("--tools object: %v", err)
	}
}

// TestTemplateFallbackWarning: a GGUF whose chat template cannot be
// rendered still works through the built-in renderer of its family, but
// run and template now say so once on stderr; the fallback was silent.
func TestTemplateFallbackWarning(t *testing.T) {
	broken := withKV(t, fixture(t, "models/ds3-tiny-Q4_K_M.gguf"), "tokenizer.chat_template",
		"{% for m in messages %}<｜User｜>{{ m.content | no_such_filter }}{% endfor %}<｜Assistant｜>")
	const want = "dseek: warning: the model's chat template cannot be rendered ("
	const builtin = "); using the built-in deepseek-v3 format"
	in := `[{"role":"user","content":"hi"}]`
	out, errOut, err := dseekOutErr(t, in, "template", "-m", broken, "--messages", "-")
	if err != nil || !strings.Contains(out, "<｜User｜>hi<｜Assistant｜>") {
		t.Fatalf("template with a broken template: %v %q", err, out)
	}
	if strings.Count(errOut, want) != 1 || !strings.Contains(errOut, builtin) {
		t.Errorf("template: stderr %q, want one %q ... %q", errOut, want, builtin)
	}
	out, errOut, err = dseekOutErr(t, "", "run", "-m", broken, "-p", "hi", "-n", "2", "--seed", "1")
	if err != nil || out == "" {
		t.Fatalf("run: %v %q", err, out)
	}
	if strings.Count(errOut, want) != 1 {
		t.Errorf("run: stderr %q, want one warning", errOut)
	}
	// The fixture's own template renders: no warning; nor with --builtin.
	for _, args := range [][]string{
		{"template", "-m", fixture(t, "models/ds3-tiny-Q4_K_M.gguf"), "--messages", "-"},
		{"template", "-m", broken, "--messages", "-", "--builtin", "deepseek-v3"},
	} {
		if _, errOut, err := dseekOutErr(t, in, args...); err != nil || errOut != "" {
			t.Errorf("%v: %v, stderr %q", args, err, errOut)
		}
	}
}

// TestCtxSizeNotes: -c rounded up to whole KV pages gets a note, and -c
// above the model's training context a warning (llama.cpp warns too); both
// used to be silent.
func TestCtxSizeNotes(t *testing.T) {
	model := fixture(t, "models/qwen2-tiny-Q8_0.gguf") // trained for 1024 tokens
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-m", model, "-c", "16", "--raw", "-p", "hi", "-n", "2"}, "dseek: note: --ctx-size 16 rounded up to 32 (KV cache pages of 32 tokens)"},
		{[]string{"logits", "-m", model, "-c", "50", "--tokens", "1,2", "-o", filepath.Join(t.TempDir(), "l.f32")}, "--ctx-size 50 rounded up to 64"},
		{[]string{"run", "-m", model, "-c", "4096", "--raw", "-p", "hi", "-n", "2"}, "dseek: warning: --ctx-size 4096 exceeds the model's training context of 1024 tokens; quality degrades beyond it"},
	} {
		_, errOut, err := dseekOutErr(t, "", c.args...)
		if err != nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %v, stderr %q, want %q", c.args, err, errOut, c.want)
		}
	}
	_, errOut, err := dseekOutErr(t, "", "run", "-m", model, "-c", "64", "--raw", "-p", "hi", "-n", "2")
	if err != nil || errOut != "" {
		t.Errorf("-c 64: %v, stderr %q, want nothing", err, errOut)
	}
}

// TestRunMessages: the one-shot and chat messages of the review.
func TestRunMessages(t *testing.T) {
	model := fixture(t, "models/ds3-tiny-Q4_K_M.gguf")
	// A fatal error printed an empty line on stdout first.
	out, _, err := dseekOutErr(t, "", "run", "-m", model, "-c", "16", "--raw", "-p", strings.Repeat("hello ", 40))
	if err == nil || out != "" {
		t.Errorf("context full: err %v, stdout %q, want no output", err, out)
	}
	// --think hide printed nothing when -n ended inside the reasoning.
	out, errOut, err := dseekOutErr(t, "", "run", "-m", model, "--template", "deepseek-r1", "--think", "hide", "-n", "3", "--seed", "1", "-p", "hi")
	if err != nil || !strings.Contains(errOut, "[reasoning hidden; the answer did not start within -n 3 tokens]") {
		t.Errorf("--think hide: %v, stdout %q, stderr %q", err, out, errOut)
	}
	// /set think without a value printed "unknown command".
	out, _, err = dseekOutErr(t, "/set think\n/set\n/bye\n", "run", "-m", model)
	if err != nil || strings.Count(out, "usage: /set think on|off|show|hide") != 2 || strings.Contains(out, "unknown command") {
		t.Errorf("/set think: %v %q", err, out)
	}
}

// TestOneShotInterrupted: an answer a signal cut short ends with 130
// (SIGINT) or 143 (SIGTERM), not [stopped] and 0.
func TestOneShotInterrupted(t *testing.T) {
	var out, errOut strings.Builder
	for sig, want := range map[syscall.Signal]int{syscall.SIGTERM: 143, syscall.SIGINT: 130} {
		cmd := newRootCmd()
		out.Reset()
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"run", "-m", fixture(t, "models/qwen2-tiny-Q8_0.gguf"), "--raw", "-p", "hi"})
		ctx, cancel := context.WithCancelCause(context.Background())
		// Cancelled once the model is loaded, as a signal would.
		onLoadedForTest = func() { cancel(signalCause{sig}) }
		err := cmd.ExecuteContext(ctx)
		onLoadedForTest = func() {}
		if code := exitCode(ctx, err); code != want {
			t.Errorf("%v: exit %d (%v), want %d", sig, code, err, want)
		}
		if strings.Contains(out.String(), "[stopped]") {
			t.Errorf("%v: stdout %q", sig, out.String())
		}
	}
}

// TestFlagErrors: out-of-range flags are refused naming the flag (they were
// taken as "off" or the default), and errors name what the user gave.
func TestFlagErrors(t *testing.T) {
	model := fixture(t, "models/qwen2-tiny-Q8_0.gguf")
	q4 := fixture(t, "models/ds3-tiny-Q4_K_M.gguf")
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "x.gguf")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-m", model, "--top-k", "-4", "-p", "x"}, "--top-k -4"},
		{[]string{"run", "-m", model, "--temp", "-1", "-p", "x"}, "--temp -1"},
		{[]string{"run", "-m", model, "--min-p", "-0.5", "-p", "x"}, "--min-p -0.5"},
		{[]string{"run", "-m", model, "--min-p", "2", "-p", "x"}, "--min-p 2"},
		{[]string{"run", "-m", model, "--top-p", "-0.1", "-p", "x"}, "--top-p -0.1"},
		{[]string{"run", "-m", model, "--repeat-penalty", "-1", "-p", "x"}, "--repeat-penalty -1"},
		{[]string{"run", "-m", model, "--repeat-penalty", "0", "-p", "x"}, "--repeat-penalty 0"},
		{[]string{"run", "-m", model, "--seed", "-2", "-p", "x"}, "--seed -2"},
		{[]string{"run", "-m", model, "--repeat-last-n", "-2", "-p", "x"}, "--repeat-last-n -2"},
		{[]string{"run", "-m", model, "--presence-penalty", "NaN", "-p", "x"}, "--presence-penalty NaN"},
		{[]string{"synth", "--shape", "r1-distill-qwen-1.5b", "--layers", "-1", "--plan"}, "--layers -1"},
		{[]string{"synth", "--shape", "r1-distill-qwen-1.5b", "-t", "-1", "--plan"}, "--threads -1"},
		{[]string{"serve", "-m", model, "--addr", "127.0.0.1:0", "--cache-size", "1XB"}, `"1XB" is not a byte size`},
		{[]string{"serve", "-m", model, "--addr", "127.0.0.1:0", "--cache-size", "99999999999GiB"}, `"99999999999GiB" is too large`},
		{[]string{"bench", "-m", model, "-p", "0", "-n", "0"}, "nothing to measure: -p and -n are both 0"},
		{[]string{"quantize", q4, filepath.Join(dir, "q8.gguf"), "q8_0"}, "--allow-requantize"},
		{[]string{"quantize", model, missing, "q4_0"}, "cannot create " + missing + ": directory " + filepath.Dir(missing) + " does not exist"},
		{[]string{"convert", fixture(t, "dsref/hf/dsv2-tiny-bf16"), "-o", missing}, "cannot create " + missing + ": directory"},
		{[]string{"synth", "--shape", "r1-distill-qwen-1.5b", "--layers", "1", "-q", "-o", missing}, "cannot create " + missing + ": directory"},
	} {
		_, _, err := dseekOutErr(t, "", c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), ".tmp-") {
			t.Errorf("%v: err = %v, want it to say %q", c.args, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Dir(missing)); !os.IsNotExist(err) {
		t.Errorf("%s was created", filepath.Dir(missing))
	}
}
