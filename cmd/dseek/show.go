package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/dtype"
	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/model"
	"github.com/dseek-ai/dseek/store"
)

// modelInfo is what `dseek show` reports.
type modelInfo struct {
	Path          string         `json:"path"`
	Architecture  string         `json:"architecture"`
	Name          string         `json:"name,omitempty"`
	Parameters    int64          `json:"parameters"`
	FileType      string         `json:"file_type,omitempty"`
	SizeBytes     int64          `json:"size_bytes"`
	QuantMix      map[string]int `json:"quant_mix"` // tensor type -> tensor count
	ContextLength int            `json:"context_length"`
	NLayer        int            `json:"n_layer"`
	NEmbd         int            `json:"n_embd"`
	NVocab        int            `json:"n_vocab"`
	Features      string         `json:"features"`
	ChatTemplate  bool           `json:"chat_template"`
	KVBytesF16    int64          `json:"kv_bytes_per_token_f16"`
	KVBytesF32    int64          `json:"kv_bytes_per_token_f32"`
	Tokenizer     string         `json:"tokenizer,omitempty"`
	PreTokenizer  string         `json:"pre_tokenizer,omitempty"`
	ExpertsRouted int            `json:"experts_routed,omitempty"`
	ExpertsUsed   int            `json:"experts_used,omitempty"`
	ExpertsShared int            `json:"experts_shared,omitempty"`
	ActiveParams  int64          `json:"active_parameters,omitempty"`
	MTPParams     int64          `json:"mtp_parameters,omitempty"` // of the MTP (nextn) layers, included in Parameters, not run
}

func newShowCmd() *cobra.Command {
	var path string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show -m MODEL",
		Short: "Show a model's architecture, size, quantization mix and KV cache cost",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" && len(args) == 1 {
				path = args[0]
			}
			if path == "" {
				return fmt.Errorf("no model: pass -m path/to/model.gguf or a name from dseek list")
			}
			resolved, err := store.Resolve(path)
			if err != nil {
				return err
			}
			info, err := inspect(resolved)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			printInfo(cmd.OutOrStdout(), info)
			return nil
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model: path to a GGUF file or a name from dseek list")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func inspect(path string) (*modelInfo, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := model.Load(f, model.Options{})
	if err != nil {
		return nil, err
	}
	c := m.Config
	info := &modelInfo{
		Path: path, Architecture: c.Arch, QuantMix: map[string]int{},
		ContextLength: c.NCtxTrain, NLayer: c.NLayer, NEmbd: c.NEmbd, NVocab: c.NVocab,
		Features: m.Describe(), KVBytesF16: m.KVBytesPerToken(dtype.F16), KVBytesF32: m.KVBytesPerToken(dtype.F32),
	}
	info.Name, _ = f.String("general.name")
	info.Tokenizer, _ = f.String("tokenizer.ggml.model")
	info.PreTokenizer, _ = f.String("tokenizer.ggml.pre")
	_, info.ChatTemplate = f.Lookup("tokenizer.chat_template")
	var expertParams, mtpParams int64
	for i := range f.Tensors {
		t := &f.Tensors[i]
		info.Parameters += t.NumElements()
		info.SizeBytes += t.Size
		info.QuantMix[t.Type.String()]++
		switch {
		case c.IsMTPTensor(t.Name):
			mtpParams += t.NumElements() // in the file, never run
		case strings.Contains(t.Name, "_exps."):
			expertParams += t.NumElements()
		}
	}
	info.MTPParams = mtpParams
	if ft, err := f.Uint("general.file_type"); err == nil {
		info.FileType = fileTypeName(ft)
	}
	if c.NExpert > 0 {
		info.ExpertsRouted, info.ExpertsUsed, info.ExpertsShared = c.NExpert, c.NExpertUsed, c.NExpertShared
		info.ActiveParams = info.Parameters - mtpParams - expertParams + expertParams*int64(c.NExpertUsed)/int64(c.NExpert)
	}
	return info, nil
}

func printInfo(w io.Writer, i *modelInfo) {
	fmt.Fprintf(w, "  %-22s %s\n", "path", i.Path)
	if i.Name != "" {
		fmt.Fprintf(w, "  %-22s %s\n", "name", i.Name)
	}
	fmt.Fprintf(w, "  %-22s %s\n", "architecture", i.Architecture)
	fmt.Fprintf(w, "  %-22s %s\n", "features", i.Features)
	fmt.Fprintf(w, "  %-22s %s (%d)\n", "parameters", humanCount(i.Parameters), i.Parameters)
	if i.MTPParams > 0 {
		fmt.Fprintf(w, "  %-22s %s in the MTP (nextn) layers, not run\n", "of which", humanCount(i.MTPParams))
	}
	if i.ActiveParams > 0 {
		fmt.Fprintf(w, "  %-22s %s per token (%d of %d routed experts + %d shared)\n", "active parameters", humanCount(i.ActiveParams), i.ExpertsUsed, i.ExpertsRouted, i.ExpertsShared)
	}
	fmt.Fprintf(w, "  %-22s %s\n", "tensor data", humanBytes(i.SizeBytes))
	if i.FileType != "" {
		fmt.Fprintf(w, "  %-22s %s\n", "file type", i.FileType)
	}
	var mix []string
	for t, n := range i.QuantMix {
		mix = append(mix, fmt.Sprintf("%s×%d", t, n))
	}
	sort.Strings(mix)
	fmt.Fprintf(w, "  %-22s %s\n", "tensor types", strings.Join(mix, " "))
	fmt.Fprintf(w, "  %-22s %d\n", "context length", i.ContextLength)
	fmt.Fprintf(w, "  %-22s %d layers, %d wide, vocabulary %d\n", "shape", i.NLayer, i.NEmbd, i.NVocab)
	fmt.Fprintf(w, "  %-22s %s / %s\n", "tokenizer", i.Tokenizer, i.PreTokenizer)
	fmt.Fprintf(w, "  %-22s %v\n", "chat template", i.ChatTemplate)
	fmt.Fprintf(w, "  %-22s %d bytes (f16 cache), %d bytes (f32 cache)\n", "KV cache per token", i.KVBytesF16, i.KVBytesF32)
}

func humanCount(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.2fB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.2fM", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.2fK", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// fileTypeName maps general.file_type (llama_ftype) to llama.cpp's name.
func fileTypeName(ft uint64) string {
	names := map[uint64]string{
		0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
		10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
		16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 25: "IQ4_NL", 30: "IQ4_XS", 32: "BF16",
	}
	if s, ok := names[ft]; ok {
		return s
	}
	return fmt.Sprintf("file type %d", ft)
}
