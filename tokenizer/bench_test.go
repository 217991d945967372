package tokenizer

import (
	"strings"
	"testing"
)

// benchText is about 100 KB of mixed English prose, Chinese prose and Go
// code, the three kinds of input a DeepSeek deployment sees most. Each
// block is varied by a counter so that the per-word cache does not make
// every repetition free.
func benchText() string {
	const english = `The tokenizer splits the prompt into pre-tokens with the model's regular
expressions, then merges the bytes of each pre-token by rank until no merge applies.
Numbers such as 3.14159, 2,048 and 1e-6 are split into groups of digits; contractions
like don't, we'll and it's keep their apostrophes. `
	const chinese = `深度求索的模型使用字节级的分词器：先用正则表达式把文本切成片段，
再按合并规则的优先级把字节合并成词元。中文、日文和韩文的文字会被单独切分，数字每三位一组。`
	const code = `func (t *Tokenizer) Encode(text string) []int32 {
	var out []int32
	for i, r := range text {
		if r == '\n' && i > 0 { out = append(out, 188) }
	}
	return out // TODO: handle "special" tokens <think></think>
}
`
	var b strings.Builder
	for i := 0; b.Len() < 100_000; i++ {
		b.WriteString(english)
		b.WriteString(chinese)
		b.WriteString(code)
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(" v")
		b.WriteString(strings.Repeat("9", i%5+1))
		b.WriteString("\n")
	}
	return b.String()
}

// benchmarkEncode reports tokens/s and input MB/s for Encode with the real
// vocabulary at path. cold clears the per-word cache before every
// iteration, so each run does all BPE merges.
func benchmarkEncode(b *testing.B, path string, cold bool) {
	benchmarkTokenizer(b, loadGGUF(b, path), cold)
}

func benchmarkTokenizer(b *testing.B, tk *Tokenizer, cold bool) {
	text := benchText()
	n := len(tk.Encode(text, false, false))
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		if cold {
			tk.cacheMu.Lock()
			clear(tk.cache)
			tk.cacheMu.Unlock()
		}
		tk.Encode(text, false, false)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}

// BenchmarkEncodeDeepSeekLLM: DeepSeek-LLM vocabulary (102,400 tokens,
// deepseek-llm pre-tokenizer: six regexes run by regexp2).
func BenchmarkEncodeDeepSeekLLM(b *testing.B) {
	b.Run("warm", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-deepseek-llm.gguf", false) })
	b.Run("cold", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-deepseek-llm.gguf", true) })
}

// BenchmarkEncodeQwen2: Qwen2 vocabulary (151,936 tokens, one regex with
// look-ahead run by regexp2).
func BenchmarkEncodeQwen2(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchmarkEncode(b, "tokenizer/ggml-vocab-qwen2-reconstructed.gguf", true) })
}

// BenchmarkEncodeDeepSeekV3 runs the deepseek-v3 pre-tokenizer (hand-written
// matchers) with the 102,400-token DeepSeek-LLM vocabulary and merges, a
// stand-in of the real V3 vocabulary's size (not in the fixtures).
func BenchmarkEncodeDeepSeekV3(b *testing.B) {
	v := loadGGUF(b, "tokenizer/ggml-vocab-deepseek-llm.gguf").Vocab()
	v.Pre = "deepseek-v3"
	tk, err := New(v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cold", func(b *testing.B) { benchmarkTokenizer(b, tk, true) })
	b.Run("warm", func(b *testing.B) { benchmarkTokenizer(b, tk, false) })
}

// BenchmarkEncodeDeepSeekV3Tiny: the deepseek-v3 pre-tokenizer on the tiny
// 1,033-token vocabulary (short merges, so mostly pre-tokenizer cost).
func BenchmarkEncodeDeepSeekV3Tiny(b *testing.B) {
	b.Run("cold", func(b *testing.B) { benchmarkEncode(b, "models/ds3-tiny-F16.gguf", true) })
}

// BenchmarkDecode reports detokenization speed for the same text.
func BenchmarkDecode(b *testing.B) {
	tk := loadGGUF(b, "tokenizer/ggml-vocab-deepseek-llm.gguf")
	ids := tk.Encode(benchText(), false, false)
	b.ResetTimer()
	for b.Loop() {
		tk.Decode(ids, false)
	}
	b.ReportMetric(float64(len(ids))*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
}
