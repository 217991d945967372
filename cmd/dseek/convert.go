package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/convert"
)

func init() { extraCommands = append(extraCommands, newConvertCmd) }

func newConvertCmd() *cobra.Command {
	var out string
	var opt convert.Options
	cmd := &cobra.Command{
		Use:   "convert HF_DIR -o OUT.gguf",
		Short: "Convert a Hugging Face safetensors checkpoint (BF16/FP8) to GGUF",
		Long: `Convert a Hugging Face checkpoint directory (config.json, model*.safetensors or a
sharded model.safetensors.index.json, tokenizer.json, tokenizer_config.json) of
DeepseekV2ForCausalLM, DeepseekV3ForCausalLM (BF16 or FP8 with block scales),
Qwen2ForCausalLM or LlamaForCausalLM into a GGUF with llama.cpp's tensor names
and metadata. Tensors are streamed; memory use stays small.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return fmt.Errorf("no output: pass -o OUT.gguf")
			}
			if opt.Threads < 0 {
				return fmt.Errorf("--threads %d: must be 0 (default) or positive", opt.Threads)
			}
			if err := checkOutputDir(out); err != nil {
				return err
			}
			update, finish := barProgress("converting")
			opt.Progress = update
			start := time.Now()
			res, err := convert.ConvertFile(cmd.Context(), args[0], out, opt)
			finish()
			if err != nil {
				return outputError(out, err)
			}
			sec := time.Since(start).Seconds()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s, %d tensors, %s in %.1fs (%.0f MiB/s)\n", out, res.Arch, res.FileType,
				res.Tensors, humanBytes(res.OutBytes), sec, float64(res.InBytes)/sec/(1<<20))
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&out, "outfile", "o", "", "output GGUF file")
	fl.StringVar(&opt.Type, "type", "auto", "weight type: auto (BF16, or F16 for F16 checkpoints), f32, f16, bf16, q8_0")
	fl.StringVar(&opt.Name, "name", "", "general.name (default: the directory name)")
	fl.BoolVar(&opt.KeepMTP, "mtp", false, "keep DeepSeek-V3 multi-token-prediction layers (blk.N.nextn.*)")
	fl.IntVarP(&opt.Threads, "threads", "t", 0, "encoding threads (0 = 2)")
	return cmd
}
