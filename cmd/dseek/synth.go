package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/quantize"
	"github.com/dseek-ai/dseek/synth"
)

func init() { extraCommands = append(extraCommands, newSynthCmd) }

func newSynthCmd() *cobra.Command {
	var (
		shape, typ, out string
		layers, threads int
		seed            uint64
		exact, quiet    bool
		planOnly        bool
	)
	cmd := &cobra.Command{
		Use:   "synth --shape NAME --type TYPE -o FILE",
		Short: "Write a random-weight GGUF with a real model's tensors, types and metadata",
		Long: "synth writes a GGUF file with the exact tensor names, shapes and metadata of a real model and the\n" +
			"per-tensor types llama-quantize would choose, filled with small normal random weights (fixed seed)\n" +
			"and a synthetic byte-level BPE vocabulary of the real size. Shapes: " + strings.Join(synth.ShapeNames(), ", ") + ".",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" && !planOnly {
				return fmt.Errorf("no output file: pass -o FILE")
			}
			// --layers -1 used to mean all layers, -t -1 all cores.
			if layers < 0 {
				return fmt.Errorf("--layers %d: want a layer count (0 = all)", layers)
			}
			if threads < 0 || threads > maxThreads {
				return fmt.Errorf("--threads %d: want 1 to %d (0: all cores)", threads, maxThreads)
			}
			if !planOnly {
				if err := checkOutputDir(out); err != nil {
					return err
				}
			}
			s, err := synth.LookupShape(shape)
			if err != nil {
				return err
			}
			if layers > 0 {
				if s, err = s.WithLayers(layers); err != nil {
					return err
				}
			}
			ft, err := quantize.ParseFileType(typ)
			if err != nil {
				return fmt.Errorf("--type %q: unknown file type (synth writes %s)", typ, synthTypes)
			}
			if w := s.LlamaCppWarning(); w != "" {
				stderrf("synth: warning: %s\n", w)
			}
			if planOnly {
				return printPlan(cmd, s, ft)
			}
			start := time.Now()
			last := start
			progressShown := false
			opt := synth.Options{Shape: s, Type: ft, Seed: seed, Exact: exact, Threads: threads}
			if !quiet {
				opt.Progress = func(done, total int64) {
					if time.Since(last) > 2*time.Second || done == total {
						last, progressShown = time.Now(), true
						stderrf("\rsynth: %6.2f / %.2f GiB (%.0f%%)", float64(done)/(1<<30), float64(total)/(1<<30), 100*float64(done)/float64(max(total, 1)))
					}
				}
			}
			res, err := synth.WriteFile(cmd.Context(), out, opt)
			if err != nil {
				if progressShown {
					stderrf("\n")
				}
				return outputError(out, err)
			}
			mix := map[string]int{}
			for _, t := range res.Tensors {
				mix[t.Type.String()]++
			}
			if progressShown {
				stderrf("\n")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s %s, %d layers, %d tensors (%s), %.3f B params, %.2f GiB of weights in %.1fs\n",
				out, s.Name, ft, s.NLayer, len(res.Tensors), typeMix(mix), float64(res.Params)/1e9, float64(res.Bytes)/(1<<30), time.Since(start).Seconds())
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&shape, "shape", "", "model shape: "+strings.Join(synth.ShapeNames(), ", "))
	fl.StringVar(&typ, "type", "q4_k_m", "file type as llama-quantize names it: "+synthTypes)
	fl.StringVarP(&out, "output", "o", "", "output GGUF file")
	fl.IntVar(&layers, "layers", 0, "keep only the first N layers (0 = all); deepseek2 keeps a proportional dense lead of 1..N-1")
	fl.Uint64Var(&seed, "seed", 42, "random seed")
	fl.BoolVar(&exact, "exact", false, "quantize freshly drawn values for every row (slow) instead of sampling a pool of quantized blocks")
	fl.IntVarP(&threads, "threads", "t", 0, "generator threads (0 = all cores)")
	fl.BoolVarP(&quiet, "quiet", "q", false, "no progress output")
	fl.BoolVar(&planOnly, "plan", false, "print the tensors (name, type, shape) and sizes without writing a file")
	_ = cmd.MarkFlagRequired("shape")
	return cmd
}

// printPlan lists the tensors synth would write.
func printPlan(cmd *cobra.Command, s synth.Shape, ft quantize.FileType) error {
	ts, err := synth.Plan(&s, ft)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	var bytes int64
	mix := map[string]int{}
	for _, t := range ts {
		fmt.Fprintf(w, "%-34s %-7s %v\n", t.Name, t.Type, t.Dims)
		bytes += t.Bytes()
		mix[t.Type.String()]++
	}
	total, _, _, _ := synth.ParamCounts(ts)
	fmt.Fprintf(w, "%s %s: %d layers, %d tensors (%s), %.3f B params, %.2f GiB\n", s.Name, ft, s.NLayer, len(ts), typeMix(mix), float64(total)/1e9, float64(bytes)/(1<<30))
	return nil
}

// typeMix formats tensor counts per type as "F32 141, Q4_K 169, Q6_K 29"
// (types in name order).
func typeMix(mix map[string]int) string {
	names := make([]string, 0, len(mix))
	for n := range mix {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d", n, mix[n])
	}
	return strings.Join(parts, ", ")
}

// synthTypes are the file types synth writes (the quantize types that need
// no importance matrix).
const synthTypes = "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k_s, q3_k_m, q3_k_l, q4_k_s, q4_k_m, q5_k_s, q5_k_m, q6_k, iq4_nl, iq4_xs"
