package chat

// newR1Renderer returns the DeepSeek-R1 / R1-Distill renderer. It is the V3
// renderer (same turns, tool syntax and fixes, see v3Renderer) with the three
// differences of R1's official template (DeepSeek-R1 tokenizer_config.json,
// the fixture ds3/qwen2/llama-tiny tokenizer.chat_template):
//
//   - the generation prompt is <｜Assistant｜><think>\n, so the model's output
//     starts inside its reasoning (RenderOptions.Thinking cannot turn this
//     off; the template ignores it too);
//   - a history assistant turn keeps only the text after its last </think>;
//   - only the last system message is used.
func newR1Renderer() *v3Renderer {
	return &v3Renderer{
		lastSystemOnly: true,
		stripThinking:  true,
		genSuffix:      TokThink + "\n",
		format:         FormatDeepSeekR1,
	}
}
