package hub

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dseek-ai/dseek/store"
)

// Alias is a short model name and the GGUF repository it stands for.
type Alias struct {
	Name string // FAMILY or FAMILY:SIZE, e.g. "deepseek-r1:1.5b"
	Repo string // ORG/REPO on the hub
	Note string
}

// Aliases are the short names `dseek pull` knows. A tag after the size
// selects the quantization: deepseek-r1:7b-q8_0 (default Q4_K_M).
var aliases = []Alias{
	{"deepseek-r1:1.5b", "unsloth/DeepSeek-R1-Distill-Qwen-1.5B-GGUF", "DeepSeek-R1-Distill-Qwen-1.5B (qwen2)"},
	{"deepseek-r1:7b", "unsloth/DeepSeek-R1-Distill-Qwen-7B-GGUF", "DeepSeek-R1-Distill-Qwen-7B (qwen2)"},
	{"deepseek-r1:8b", "unsloth/DeepSeek-R1-Distill-Llama-8B-GGUF", "DeepSeek-R1-Distill-Llama-8B (llama)"},
	{"deepseek-r1:14b", "unsloth/DeepSeek-R1-Distill-Qwen-14B-GGUF", "DeepSeek-R1-Distill-Qwen-14B (qwen2)"},
	{"deepseek-r1:32b", "unsloth/DeepSeek-R1-Distill-Qwen-32B-GGUF", "DeepSeek-R1-Distill-Qwen-32B (qwen2)"},
	{"deepseek-r1:70b", "unsloth/DeepSeek-R1-Distill-Llama-70B-GGUF", "DeepSeek-R1-Distill-Llama-70B (llama)"},
	{"deepseek-r1:671b", "unsloth/DeepSeek-R1-GGUF", "DeepSeek-R1 (deepseek2, split GGUF)"},
	{"deepseek-v3", "unsloth/DeepSeek-V3-GGUF", "DeepSeek-V3 (deepseek2, split GGUF)"},
	{"deepseek-v2-lite", "mradermacher/DeepSeek-V2-Lite-Chat-GGUF", "DeepSeek-V2-Lite-Chat (deepseek2)"},
	{"deepseek-coder-v2-lite", "bartowski/DeepSeek-Coder-V2-Lite-Instruct-GGUF", "DeepSeek-Coder-V2-Lite-Instruct (deepseek2)"},
	{"deepseek-llm:7b", "TheBloke/deepseek-llm-7B-chat-GGUF", "DeepSeek-LLM-7B-Chat (llama)"},
}

// Aliases returns the known short names, sorted.
func Aliases() []Alias {
	out := append([]Alias(nil), aliases...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ResolveAlias maps an alias name to its repository and quantization tag:
// "deepseek-r1:1.5b" -> (unsloth/..., ""), "deepseek-r1:7b-q8_0" ->
// (unsloth/..., "Q8_0"), "deepseek-v2-lite:q6_k" -> (..., "Q6_K").
// Errors: an unknown alias (the message lists the known ones).
func ResolveAlias(n store.Name) (repo, quant string, err error) {
	family, tag := n.Repo, strings.ToLower(n.Tag)
	for _, a := range aliases {
		af, asize, _ := strings.Cut(a.Name, ":")
		if af != family {
			continue
		}
		switch {
		case asize == "" && (tag == "" || store.IsQuantName(tag)):
			return a.Repo, strings.ToUpper(tag), nil
		case asize != "" && tag == asize:
			return a.Repo, "", nil
		case asize != "" && strings.HasPrefix(tag, asize+"-") && store.IsQuantName(tag[len(asize)+1:]):
			return a.Repo, strings.ToUpper(tag[len(asize)+1:]), nil
		}
	}
	var names []string
	for _, a := range Aliases() {
		names = append(names, a.Name)
	}
	return "", "", fmt.Errorf("hub: unknown model %q; known names: %s, or hf.co/ORG/REPO[:QUANT]", n.String(), strings.Join(names, ", "))
}
