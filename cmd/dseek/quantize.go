package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/store"
)

func init() { extraCommands = append(extraCommands, newQuantizeCmd) }

func newQuantizeCmd() *cobra.Command {
	var opt quantize.Options
	cmd := &cobra.Command{
		Use:   "quantize IN.gguf OUT.gguf TYPE",
		Short: "Quantize a GGUF model (llama-quantize's mixes, e.g. Q4_K_M, Q8_0)",
		Long: fmt.Sprintf(`Re-encode a GGUF model (a file, the first part of a split model, or a store name)
as TYPE with llama.cpp's per-tensor type choices; the output is what
llama-quantize writes without an importance matrix, byte for byte.
TYPE: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_S, Q3_K_M, Q3_K_L, Q4_K_S, Q4_K_M,
Q5_K_S, Q5_K_M, Q6_K, IQ4_NL, IQ4_XS, F16, BF16, F32 (%d threads by default).`, runtime.NumCPU()),
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			ft, err := quantize.ParseFileType(args[2])
			if err != nil {
				return err
			}
			in, err := store.Resolve(args[0])
			if err != nil {
				return err
			}
			if err := checkOutputDir(args[1]); err != nil {
				return err
			}
			update, finish := barProgress("quantizing " + ft.String())
			opt.Progress = update
			start := time.Now()
			res, err := quantize.File(cmd.Context(), in, args[1], ft, opt)
			finish()
			if err != nil {
				return quantizeError(args[1], err)
			}
			sec := time.Since(start).Seconds()
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %s -> %s in %.1fs (%.0f MiB/s)", args[1], ft, humanBytes(res.InBytes), humanBytes(res.OutBytes),
				sec, float64(res.InBytes)/sec/(1<<20))
			if res.Fallbacks > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), ", %d tensors with fallback types", res.Fallbacks)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().IntVarP(&opt.Threads, "threads", "t", 0, "encoding threads (0 = all cores)")
	cmd.Flags().BoolVar(&opt.Pure, "pure", false, "no per-tensor mix rules: every quantized tensor gets TYPE's base type")
	cmd.Flags().BoolVar(&opt.AllowRequantize, "allow-requantize", false, "re-encode tensors that are already quantized")
	return cmd
}

// quantizeError makes quantize.File's errors name the flag or the output
// file the user gave: the requantization refusal said "(allow it
// explicitly)" without saying how.
func quantizeError(out string, err error) error {
	const vague = "(allow it explicitly)"
	if msg := err.Error(); strings.Contains(msg, vague) {
		return errors.New(strings.Replace(msg, vague, "(pass --allow-requantize to do it anyway)", 1))
	}
	return outputError(out, err)
}
