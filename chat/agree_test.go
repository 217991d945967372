package chat

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltinMatchesTemplate renders every shape with a built-in renderer and
// with the official template of the same family and requires identical text
// (or an error from both). Shapes where the official template is known to be
// wrong are listed with the reason, and the built-in form is checked instead.
func TestBuiltinMatchesTemplate(t *testing.T) {
	srcs := jinjaSources(t)
	pairs := []struct {
		builtin, template string
		known             map[string]string // shape -> why the template differs
	}{
		{FormatDeepSeekLLM, "fixture-ds2-lite-tiny", nil},
		{FormatDeepSeekV3, "dsref-v3", map[string]string{
			"tool-result-last": "the V3 template writes <｜tool▁calls▁end｜><｜end▁of▁sentence｜> only after a second call",
		}},
		{FormatDeepSeekR1, "fixture-ds3-tiny", map[string]string{
			"tool-result-last": "the R1 template writes <｜tool▁calls▁end｜><｜end▁of▁sentence｜> only after a second call",
		}},
		{FormatDeepSeekR1, "ik-llama-deepseek-r1-distill-llama-8b", map[string]string{
			"tool-result-last": "as R1",
		}},
		{FormatDeepSeekV31, "deepseek-v3.1", nil},
	}
	for _, p := range pairs {
		b, err := Builtin(p.builtin)
		if err != nil {
			t.Fatal(err)
		}
		src, ok := srcs[p.template]
		if !ok {
			t.Fatalf("template %s missing", p.template)
		}
		tpl, err := NewJinja(src)
		if err != nil {
			t.Fatal(err)
		}
		if got := Detect(src, ""); got != p.builtin {
			t.Errorf("Detect(%s) = %q, want %q", p.template, got, p.builtin)
		}
		for _, s := range shapes() {
			bOut, jOut := render(b, s), render(tpl, s)
			if why, isKnown := p.known[s.name]; isKnown {
				if bOut == jOut {
					t.Errorf("%s/%s: listed as a template defect (%s) but both agree", p.builtin, s.name, why)
				}
				if !strings.Contains(bOut, TokToolCallEnd+TokToolCallsEnd+TokEOS) {
					t.Errorf("%s/%s: built-in does not close the call block: %q", p.builtin, s.name, bOut)
				}
				continue
			}
			bErr, jErr := strings.HasPrefix(bOut, "error: "), strings.HasPrefix(jOut, "error: ")
			if bErr != jErr || (!bErr && bOut != jOut) {
				t.Errorf("%s vs %s, shape %s:\n builtin  %q\n template %q", p.builtin, p.template, s.name, bOut, jOut)
			}
		}
	}
}

// TestLlamaCppPrompts checks the fixtures' text.json prompts, which llama.cpp
// (c392e50) formatted with llama_chat_apply_template from each model's own
// template: "deepseek2" style for ds2-lite-tiny, "deepseek3" style for the R1
// template of the others. llama.cpp's formatter writes no BOS (the tokenizer
// adds it) and no "<think>\n". So: the built-in renderer of llama.cpp's style
// with BOS "" must equal the prompt, and the file's own template rendered
// through Jinja with BOS "" must equal it plus "<think>\n" for R1.
func TestLlamaCppPrompts(t *testing.T) {
	fx := fixturesDir(t)
	var index struct {
		Cases []struct {
			Family, Quant, Model, Kind, JSON string
		}
	}
	readJSON(t, filepath.Join(fx, "golden", "index.json"), &index)
	n := 0
	for _, c := range index.Cases {
		if c.Kind != "text" {
			continue
		}
		n++
		var tc struct {
			Prompt          string `json:"prompt"`
			ChatUserMessage string `json:"chat_user_message"`
		}
		readJSON(t, filepath.Join(fx, "golden", c.JSON), &tc)
		src := ggufString(t, filepath.Join(fx, "models", c.Model), "tokenizer.chat_template")
		format := Detect(src, "")
		llamaStyle, thinkSuffix := FormatDeepSeekV3, ""
		switch format {
		case FormatDeepSeekLLM:
			llamaStyle = FormatDeepSeekLLM
		case FormatDeepSeekR1:
			thinkSuffix = TokThink + "\n"
		default:
			t.Fatalf("%s: unexpected family %q", c.JSON, format)
		}
		msgs := []Message{{Role: "user", Content: tc.ChatUserMessage}}
		opts := RenderOptions{AddGenerationPrompt: true, EOS: TokEOS}
		b, _ := Builtin(llamaStyle)
		if got, err := b.Render(msgs, opts); err != nil || got != tc.Prompt {
			t.Errorf("%s: builtin %s = %q, %v; llama.cpp prompt %q", c.JSON, llamaStyle, got, err, tc.Prompt)
		}
		tpl, err := NewJinja(src)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tpl.Render(msgs, opts); err != nil || got != tc.Prompt+thinkSuffix {
			t.Errorf("%s: Jinja = %q, %v; want llama.cpp prompt + %q = %q", c.JSON, got, err, thinkSuffix, tc.Prompt+thinkSuffix)
		}
		if EndsInReasoning(tc.Prompt+thinkSuffix) != (thinkSuffix != "") {
			t.Errorf("%s: EndsInReasoning wrong", c.JSON)
		}
	}
	if n == 0 {
		t.Fatal("no text cases in golden/index.json")
	}
}

// TestDsrefPrompts checks the dsref chat cases, whose prompt DeepSeek's V3
// template produced through Hugging Face's Jinja rendering (with BOS), from
// chat_messages, against both the Jinja rendering and the V3 built-in.
func TestDsrefPrompts(t *testing.T) {
	fx := fixturesDir(t)
	srcs := jinjaSources(t)
	tpl, err := NewJinja(srcs["dsref-v3"])
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Builtin(FormatDeepSeekV3)
	dirs, _ := filepath.Glob(filepath.Join(fx, "dsref", "golden", "*", "chat.json"))
	if len(dirs) == 0 {
		t.Fatal("no dsref chat.json fixtures")
	}
	for _, path := range dirs {
		var c struct {
			Prompt   string `json:"prompt"`
			Messages []struct {
				Role, Content string
			} `json:"chat_messages"`
		}
		readJSON(t, path, &c)
		var msgs []Message
		for _, m := range c.Messages {
			msgs = append(msgs, Message{Role: m.Role, Content: m.Content})
		}
		opts := RenderOptions{AddGenerationPrompt: true, BOS: TokBOS, EOS: TokEOS}
		for name, r := range map[string]Renderer{"jinja": tpl, "builtin": b} {
			got, err := r.Render(msgs, opts)
			if err != nil || got != c.Prompt {
				t.Errorf("%s %s: %q, %v; want %q", path, name, got, err, c.Prompt)
			}
			if !StartsWithBOS(got, TokBOS) || strings.Count(got, TokBOS) != 1 {
				t.Errorf("%s %s: BOS not exactly once at the start", path, name)
			}
		}
	}
}

// TestFixtureTemplatesAgree: all non-V2 fixture models carry the same R1
// template (README: "chat template DeepSeek-R1").
func TestFixtureTemplatesAgree(t *testing.T) {
	fx := fixturesDir(t)
	ref := ggufString(t, filepath.Join(fx, "models", "ds3-tiny-F16.gguf"), "tokenizer.chat_template")
	for _, m := range []string{"qwen2-tiny-F16.gguf", "llama-tiny-F16.gguf", "ds3-tiny-Q8_0.gguf"} {
		if got := ggufString(t, filepath.Join(fx, "models", m), "tokenizer.chat_template"); got != ref {
			t.Errorf("%s template differs from ds3-tiny's", m)
		}
	}
}
