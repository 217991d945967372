// Package tokenizer is dseek's byte-level BPE tokenizer: the `gpt2`
// tokenizer model of GGUF (tokenizer.ggml.model = "gpt2"), loaded from GGUF
// metadata (FromGGUF) or from a Hugging Face tokenizer.json plus
// tokenizer_config.json (FromHF, ConvertHF).
//
// It reproduces llama.cpp's tokenizer (src/llama-vocab.cpp and
// src/unicode.cpp at commit c392e50, the fixtures' oracle) token for token:
//
//   - Pre-tokenizers by tokenizer.ggml.pre: deepseek-llm, deepseek-coder,
//     deepseek-v3, qwen2 / deepseek-r1-qwen, llama-bpe (with llama.cpp's
//     ignore_merges: a pre-token that is itself a token is emitted whole),
//     gpt-2 and default. Any other name is an error.
//   - Regexes run the way llama.cpp runs them: those using \p{..} classes
//     are matched against a "collapsed" text where every non-ASCII code point
//     is replaced by one rune per Unicode category (whitespace by \v), with
//     llama.cpp's ASCII members per class; the others against the code points
//     with non-ASCII whitespace replaced by \v. The matcher is regexp2 (for
//     the look-ahead \s+(?!\S)); the gpt-2 and llama3 regexes use ports of
//     llama.cpp's hand-written splitters.
//   - Special tokens: longer texts first, each split out everywhere
//     (tokenizer_st_partition); CONTROL/UNKNOWN texts only with parseSpecial,
//     USER_DEFINED texts always.
//   - BOS/EOS per add_bos/add_eos; EOT, FIM ids and the end-of-generation
//     set found by token text where the GGUF does not give them.
//   - Decoding per llama_token_to_piece / llama_detokenize, including the
//     clean_up_tokenization_spaces pass for the pre-tokenizers that enable it.
//
// Known, deliberate differences from Hugging Face tokenizers, inherited from
// llama.cpp (dseek matches llama.cpp, whose GGUFs it runs): in the
// collapsed-class regexes ASCII '~' belongs to neither \p{P} nor \p{S}, so
// e.g. "  ~" splits as " ", " ", "~" with the deepseek-v3 pre-tokenizer
// where HF gives " ", " ~"; and invalid UTF-8 is read as one U+FFFD per bad
// byte. The JavaScript port of HF tokenizers additionally differs on U+0085,
// which is whitespace here and in llama.cpp but not in JavaScript's \s.
//
// One difference from llama.cpp itself: a four-byte UTF-8 form above
// U+10FFFF, on which llama.cpp throws out of llama_tokenize, is read as an
// invalid byte (U+FFFD) here.
//
// A Tokenizer is immutable after construction apart from an internal,
// mutex-guarded per-word cache, and is safe for concurrent use.
package tokenizer
