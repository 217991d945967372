package tokenizer

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/dseek-ai/dseek/gguf"
)

// fixturesDir is the shared fixtures directory; a missing one fails the test.
func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

// fixture returns the path of a file under the fixtures dir, failing the
// test when it does not exist.
func fixture(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(fixturesDir(t), rel)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("fixture missing: %v", err)
	}
	return p
}

// ggufCache shares the tokenizers loaded from fixture GGUFs between tests.
var ggufCache sync.Map // path -> *Tokenizer

// loadGGUF opens a fixture GGUF and builds its tokenizer.
func loadGGUF(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	path := fixture(t, rel)
	if tk, ok := ggufCache.Load(path); ok {
		return tk.(*Tokenizer)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", rel, err)
	}
	defer f.Close()
	tk, err := FromGGUF(f)
	if err != nil {
		t.Fatalf("FromGGUF %s: %v", rel, err)
	}
	ggufCache.Store(path, tk)
	return tk
}

// readInpOut parses llama.cpp's test-tokenizer-0 files: the .inp strings are
// separated by "\n__ggml_vocab_test__\n", the .out file has one line of
// space-separated ids per string.
func readInpOut(t testing.TB, inp, out string) ([]string, [][]int32) {
	t.Helper()
	raw, err := os.ReadFile(inp)
	if err != nil {
		t.Fatal(err)
	}
	const sep = "\n__ggml_vocab_test__\n"
	var texts []string
	s := string(raw)
	for pos := 0; pos < len(s); {
		next := strings.Index(s[pos:], sep)
		if next < 0 {
			texts = append(texts, s[pos:])
			break
		}
		texts = append(texts, s[pos:pos+next])
		pos += next + len(sep)
	}
	rawOut, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(rawOut), "\n"), "\n")
	if len(lines) != len(texts) {
		t.Fatalf("%s: %d inputs, %d output lines", filepath.Base(inp), len(texts), len(lines))
	}
	ids := make([][]int32, len(lines))
	for i, l := range lines {
		for _, f := range strings.Fields(l) {
			v, err := strconv.Atoi(f)
			if err != nil {
				t.Fatalf("%s line %d: %v", filepath.Base(out), i+1, err)
			}
			ids[i] = append(ids[i], int32(v))
		}
	}
	return texts, ids
}

// TestLlamaCppVocabFiles runs llama.cpp's test-tokenizer-0 vectors: every
// .inp string tokenized without BOS and without special parsing must give
// the .out ids (computed by the Hugging Face tokenizer of each model).
func TestLlamaCppVocabFiles(t *testing.T) {
	cases := []struct{ vocab, vectors string }{
		{"tokenizer/ggml-vocab-deepseek-llm.gguf", "tokenizer/ggml-vocab-deepseek-llm.gguf"},
		{"tokenizer/ggml-vocab-deepseek-coder.gguf", "tokenizer/ggml-vocab-deepseek-coder.gguf"},
		{"tokenizer/ggml-vocab-qwen2-reconstructed.gguf", "tokenizer/ggml-vocab-qwen2-reconstructed.gguf"},
		{"tokenizer/ggml-vocab-qwen2-reconstructed.gguf", "tokenizer/ggml-vocab-qwen2.gguf"},
		{"tokenizer/ggml-vocab-qwen2-reconstructed.gguf", "tokenizer/ggml-vocab-deepseek-r1-qwen.gguf"},
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.vectors), func(t *testing.T) {
			tk := loadGGUF(t, c.vocab)
			texts, want := readInpOut(t, fixture(t, c.vectors+".inp"), fixture(t, c.vectors+".out"))
			pass := 0
			for i, s := range texts {
				got := tk.Encode(s, false, false)
				if !slices.Equal(got, want[i]) {
					t.Errorf("%q:\n got %v\nwant %v", s, got, want[i])
					continue
				}
				pass++
			}
			t.Logf("%s: %d/%d strings match", filepath.Base(c.vectors), pass, len(texts))
		})
	}
}

// tokenizeRow is one entry of a fixtures tokenize.json.
type tokenizeRow struct {
	Text     string  `json:"text"`
	TextHex  string  `json:"text_hex"`
	Plain    []int32 `json:"ids_plain"`
	Special  []int32 `json:"ids_special"`
	HF       []int32 `json:"ids_hf"`
	DetokHex string  `json:"detok_plain_hex"`
}

func readTokenizeJSON(t testing.TB, rel string) []tokenizeRow {
	t.Helper()
	raw, err := os.ReadFile(fixture(t, rel))
	if err != nil {
		t.Fatal(err)
	}
	var rows []tokenizeRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: no rows", rel)
	}
	return rows
}

// rowText returns the exact input bytes of a row (text_hex; the JSON text
// cannot hold invalid UTF-8).
func rowText(t testing.TB, r tokenizeRow) string {
	t.Helper()
	b, err := hex.DecodeString(r.TextHex)
	if err != nil {
		t.Fatalf("text_hex of %q: %v", r.Text, err)
	}
	return string(b)
}

// checkTokenizeRows compares Encode/Decode with llama.cpp's ids_plain,
// ids_special and detok_plain_hex, and with ids_hf when withHF is set.
func checkTokenizeRows(t *testing.T, tk *Tokenizer, rows []tokenizeRow, withHF bool) {
	t.Helper()
	pass := 0
	for _, r := range rows {
		s := rowText(t, r)
		ok := true
		if got := tk.Encode(s, false, false); !slices.Equal(got, r.Plain) {
			t.Errorf("plain %q:\n got %v\nwant %v", r.Text, got, r.Plain)
			ok = false
		}
		if got := tk.Encode(s, true, true); !slices.Equal(got, r.Special) {
			t.Errorf("special %q:\n got %v\nwant %v", r.Text, got, r.Special)
			ok = false
		}
		if withHF {
			if r.HF == nil {
				t.Fatalf("row %q has no ids_hf", r.Text)
			}
			if got := tk.Encode(s, false, true); !slices.Equal(got, r.HF) {
				t.Errorf("hf %q:\n got %v\nwant %v", r.Text, got, r.HF)
				ok = false
			}
		}
		if got := hex.EncodeToString(tk.Decode(r.Plain, false)); got != r.DetokHex {
			t.Errorf("detok %q:\n got %s\nwant %s", r.Text, got, r.DetokHex)
			ok = false
		}
		if ok {
			pass++
		}
	}
	t.Logf("%d/%d rows match", pass, len(rows))
}

// TestGoldenTokenize checks every golden/<family>/tokenize.json against the
// matching model GGUF.
func TestGoldenTokenize(t *testing.T) {
	cases := []struct{ family, model string }{
		{"ds2-lite-tiny", "models/ds2-lite-tiny-Q4_0.gguf"},
		{"ds3-tiny", "models/ds3-tiny-F16.gguf"},
		{"qwen2-tiny", "models/qwen2-tiny-F16.gguf"},
		{"llama-tiny", "models/llama-tiny-F16.gguf"},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			tk := loadGGUF(t, c.model)
			checkTokenizeRows(t, tk, readTokenizeJSON(t, "golden/"+c.family+"/tokenize.json"), false)
		})
	}
}

// TestDsrefTokenize checks dsref/golden/tokenizer/tokenize.json against the
// three dsref GGUFs and against the HF tokenizer.json loaded with FromHF.
func TestDsrefTokenize(t *testing.T) {
	rows := readTokenizeJSON(t, "dsref/golden/tokenizer/tokenize.json")
	for _, m := range []string{"dsv3-tiny-BF16", "dsv2-tiny-F16", "dsv2-lite-tiny-F16"} {
		t.Run(m, func(t *testing.T) {
			checkTokenizeRows(t, loadGGUF(t, "dsref/gguf/"+m+".gguf"), rows, true)
		})
	}
	t.Run("FromHF", func(t *testing.T) {
		checkTokenizeRows(t, loadDsrefHF(t), rows, true)
	})
}

func loadDsrefHF(t testing.TB) *Tokenizer {
	t.Helper()
	tj, err := os.ReadFile(fixture(t, "dsref/tokenizer/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tc, err := os.ReadFile(fixture(t, "dsref/tokenizer/tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tk, err := FromHF(tj, tc)
	if err != nil {
		t.Fatalf("FromHF: %v", err)
	}
	return tk
}

// vocabJSON is a fixtures vocab.json.
type vocabJSON struct {
	NVocab int     `json:"n_vocab"`
	BOS    int32   `json:"bos"`
	EOS    int32   `json:"eos"`
	EOT    int32   `json:"eot"`
	PAD    int32   `json:"pad"`
	AddBOS bool    `json:"add_bos"`
	AddEOS bool    `json:"add_eos"`
	EOG    []int32 `json:"eog"`
	Tokens []struct {
		ID             int32  `json:"id"`
		Text           string `json:"text"`
		Attr           Attr   `json:"attr"`
		PieceHex       string `json:"piece_hex"`
		PieceNoSpecHex string `json:"piece_nospecial_hex"`
	} `json:"tokens"`
}

// TestGoldenVocab checks special ids, flags, EOG set, attributes and both
// pieces of every token against golden/<family>/vocab.json.
func TestGoldenVocab(t *testing.T) {
	cases := []struct{ family, model string }{
		{"ds2-lite-tiny", "models/ds2-lite-tiny-Q4_0.gguf"},
		{"ds3-tiny", "models/ds3-tiny-F16.gguf"},
		{"qwen2-tiny", "models/qwen2-tiny-F16.gguf"},
		{"llama-tiny", "models/llama-tiny-F16.gguf"},
	}
	for _, c := range cases {
		t.Run(c.family, func(t *testing.T) {
			tk := loadGGUF(t, c.model)
			raw, err := os.ReadFile(fixture(t, "golden/"+c.family+"/vocab.json"))
			if err != nil {
				t.Fatal(err)
			}
			var v vocabJSON
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			checkVocab(t, tk, v)
		})
	}
}

func checkVocab(t *testing.T, tk *Tokenizer, v vocabJSON) {
	t.Helper()
	head := fmt.Sprint(tk.VocabSize(), tk.BOS(), tk.EOS(), tk.EOT(), tk.PAD(), tk.AddBOS(), tk.AddEOS(), tk.EOGIDs())
	want := fmt.Sprint(v.NVocab, v.BOS, v.EOS, v.EOT, v.PAD, v.AddBOS, v.AddEOS, v.EOG)
	if head != want {
		t.Errorf("n_vocab bos eos eot pad add_bos add_eos eog: got %s want %s", head, want)
	}
	if len(v.Tokens) != v.NVocab {
		t.Fatalf("vocab.json lists %d tokens for n_vocab %d", len(v.Tokens), v.NVocab)
	}
	bad := 0
	for _, tok := range v.Tokens {
		id := tok.ID
		got := fmt.Sprintf("%q %d %x %x", tk.TokenText(id), tk.Attr(id), tk.Piece(id, true), tk.Piece(id, false))
		want := fmt.Sprintf("%q %d %s %s", tok.Text, tok.Attr, tok.PieceHex, tok.PieceNoSpecHex)
		if got != want {
			if bad < 10 {
				t.Errorf("token %d: got %s want %s", id, got, want)
			}
			bad++
		}
		if eog := slices.Contains(v.EOG, id); tk.IsEOG(id) != eog {
			t.Errorf("token %d: IsEOG %v want %v", id, tk.IsEOG(id), eog)
		}
		if back, ok := tk.TokenID(tok.Text); !ok || tk.TokenText(back) != tok.Text {
			t.Errorf("TokenID(%q) = %d, %v", tok.Text, back, ok)
		}
	}
	t.Logf("%d/%d tokens match text, attr and both pieces", len(v.Tokens)-bad, len(v.Tokens))
}

// goldenCase is the tokenizer-relevant part of a golden <case>.json.
type goldenCase struct {
	Model        string   `json:"model"`
	GGUF         string   `json:"gguf"`
	PromptHex    string   `json:"prompt_hex"`
	InputIDs     []int32  `json:"input_ids"`
	GreedyIDs    []int32  `json:"greedy_ids"`
	TextHex      string   `json:"greedy_text_hex"`
	NoSpecialHex string   `json:"greedy_text_nospecial_hex"`
	PiecesHex    []string `json:"greedy_pieces_hex"`
}

// TestGoldenCases checks, for every golden case of both oracles, the
// detokenization of the greedy continuation (with and without special
// tokens, and piece by piece) and, for the chat cases, the tokenization of
// the formatted prompt: llama.cpp fixtures add BOS (add_special and
// parse_special on); dsref prompts carry BOS in the text and are tokenized
// with every added token matched and nothing added.
func TestGoldenCases(t *testing.T) {
	type idx struct {
		Cases []struct {
			JSON  string `json:"json"`
			Model string `json:"model"`
			GGUF  string `json:"gguf"`
			Kind  string `json:"kind"`
		} `json:"cases"`
	}
	for _, oracle := range []struct{ dir, models string }{{"golden", "models"}, {"dsref/golden", "dsref"}} {
		raw, err := os.ReadFile(fixture(t, oracle.dir+"/index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ix idx
		if err := json.Unmarshal(raw, &ix); err != nil {
			t.Fatal(err)
		}
		checked, prompts := 0, 0
		for _, c := range ix.Cases {
			model := oracle.models + "/" + c.Model
			if c.GGUF != "" {
				model = oracle.models + "/" + c.GGUF
			}
			tk := loadGGUF(t, model)
			raw, err := os.ReadFile(fixture(t, oracle.dir+"/"+c.JSON))
			if err != nil {
				t.Fatal(err)
			}
			var g goldenCase
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatalf("%s: %v", c.JSON, err)
			}
			checkGoldenCase(t, tk, c.JSON, c.Kind == "text", oracle.dir == "golden", g)
			checked++
			if c.Kind == "text" {
				prompts++
			}
		}
		if prompts == 0 {
			t.Errorf("%s: no chat cases found", oracle.dir)
		}
		t.Logf("%s: %d cases checked (greedy decode), %d chat prompts tokenized", oracle.dir, checked, prompts)
	}
}

func checkGoldenCase(t *testing.T, tk *Tokenizer, name string, chat, addBOS bool, g goldenCase) {
	t.Helper()
	if got := hex.EncodeToString(tk.Decode(g.GreedyIDs, true)); got != g.TextHex {
		t.Errorf("%s: greedy text\n got %s\nwant %s", name, got, g.TextHex)
	}
	if got := hex.EncodeToString(tk.Decode(g.GreedyIDs, false)); got != g.NoSpecialHex {
		t.Errorf("%s: greedy text without specials\n got %s\nwant %s", name, got, g.NoSpecialHex)
	}
	var pieces []string
	for _, id := range g.GreedyIDs {
		pieces = append(pieces, hex.EncodeToString(tk.Piece(id, true)))
	}
	if !slices.Equal(pieces, g.PiecesHex) {
		t.Errorf("%s: pieces\n got %v\nwant %v", name, pieces, g.PiecesHex)
	}
	if !chat {
		return
	}
	prompt, err := hex.DecodeString(g.PromptHex)
	if err != nil {
		t.Fatal(err)
	}
	if got := tk.Encode(string(prompt), addBOS, true); !slices.Equal(got, g.InputIDs) {
		t.Errorf("%s: prompt ids\n got %v\nwant %v", name, got, g.InputIDs)
	}
}
