package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/bench"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/internal/hugepage"
	"github.com/dseek-ai/dseek/store"
)

func init() { extraCommands = append(extraCommands, newBenchCmd) }

// parseIntList parses llama-bench style lists: "512", "128,512".
func parseIntList(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 0 {
			return nil, fmt.Errorf("--%s %q: want non-negative integers separated by commas", name, s)
		}
		out = append(out, v)
	}
	return out, nil
}

// allZero reports whether every value of vs is 0.
func allZero(vs []int) bool {
	for _, v := range vs {
		if v != 0 {
			return false
		}
	}
	return true
}

func newBenchCmd() *cobra.Command {
	var (
		modelPath, prompts, gens, threads string
		reps, ubatch, bwMiB               int
		asJSON, noWarmup, noBW, noMmap    bool
		output, cpuProfile, hugePages     string
	)
	cmd := &cobra.Command{
		Use:   "bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--json]",
		Short: "Measure prompt processing and generation speed like llama-bench",
		Long: "bench measures prompt processing (ppN: N prompt tokens on a fresh cache) and token generation\n" +
			"(tgN: N single-token decode steps from an empty cache) in tokens/s, mean ± sample standard deviation\n" +
			"over -r repetitions after a warm-up, and prints llama-bench's markdown table or, with --json, its\n" +
			"-o json array. It also measures the memory read bandwidth and reports each tg test's fraction of the\n" +
			"bandwidth bound (bandwidth / bytes read per token: all weights except the embedding table, only the\n" +
			"active experts of MoE layers, plus the KV cache). -p, -n and -t take comma-separated lists.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if modelPath == "" && len(args) == 1 {
				modelPath = args[0]
			}
			if modelPath == "" {
				return fmt.Errorf("no model: pass -m path/to/model.gguf or a name from dseek list")
			}
			path, err := store.Resolve(modelPath)
			if err != nil {
				return err
			}
			p := bench.Params{Model: path, Reps: reps, Warmup: !noWarmup, UBatch: ubatch, NoMmap: noMmap, Seed: 1}
			if p.HugePages, err = engine.ParseHugePages(hugePages); err != nil {
				return err
			}
			if p.Prompts, err = parseIntList("n-prompt", prompts); err != nil {
				return err
			}
			if p.Gens, err = parseIntList("n-gen", gens); err != nil {
				return err
			}
			if p.Threads, err = parseIntList("threads", threads); err != nil {
				return err
			}
			// -p 0 -n 0 used to print an empty table.
			if allZero(p.Prompts) && allZero(p.Gens) {
				return fmt.Errorf("nothing to measure: -p and -n are both 0")
			}
			for i, t := range p.Threads {
				if t == 0 {
					p.Threads[i] = runtime.NumCPU()
				}
			}
			if reps < 1 || ubatch < 1 {
				return fmt.Errorf("--repetitions and --ubatch-size must be positive")
			}
			switch output {
			case "md", "json":
			default:
				return fmt.Errorf("--output %q: want md or json", output)
			}
			if asJSON {
				output = "json"
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
			}
			tests, err := bench.Bench(cmd.Context(), p)
			if cpuProfile != "" {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			if len(tests) > 0 {
				if n := tests[0].HugePageWeightBytes; n > 0 {
					stderrf("bench: %s\n", copiedWhere(n, hugepage.Enabled()))
				}
			}
			// Peak RSS before the bandwidth probe allocates its buffer.
			stderrf("bench: peak RSS %.1f MiB\n", float64(bench.PeakRSS())/(1<<20))
			if !noBW {
				th := 0
				for _, t := range p.Threads {
					th = max(th, t)
				}
				r, err := bench.MeasureBandwidth(th, int64(bwMiB)<<20, 5)
				if err != nil {
					return err
				}
				for i := range tests {
					bench.ApplyBandwidth(&tests[i], r.GBps)
				}
				pages := ""
				if r.HugePages {
					pages = " probe buffer on huge pages"
				}
				stderrf("bench: memory read bandwidth %.1f GB/s (%d threads, %d MiB%s, best of %d passes)\n", r.GBps, r.Threads, r.Bytes>>20, pages, r.Passes)
			}
			if output == "json" {
				return bench.WriteJSON(cmd.OutOrStdout(), tests)
			}
			return bench.WriteMarkdown(cmd.OutOrStdout(), tests)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&modelPath, "model", "m", "", "model: path to a GGUF file or a name from dseek list")
	fl.StringVarP(&prompts, "n-prompt", "p", "512", "prompt sizes (pp tests), comma-separated; 0 = none")
	fl.StringVarP(&gens, "n-gen", "n", "128", "generation lengths (tg tests), comma-separated; 0 = none")
	fl.StringVarP(&threads, "threads", "t", strconv.Itoa(runtime.NumCPU()), "thread counts, comma-separated")
	fl.IntVarP(&reps, "repetitions", "r", 5, "timed repetitions per test")
	fl.IntVarP(&ubatch, "ubatch-size", "u", 512, "prompt tokens per forward pass")
	fl.BoolVar(&asJSON, "json", false, "print llama-bench's -o json array instead of the markdown table")
	fl.StringVarP(&output, "output", "o", "md", "output format: md or json")
	fl.BoolVar(&noWarmup, "no-warmup", false, "skip the untimed warm-up run")
	fl.BoolVar(&noBW, "no-bandwidth", false, "skip the memory bandwidth probe")
	fl.IntVar(&bwMiB, "bandwidth-mib", 512, "buffer size of the bandwidth probe, MiB")
	fl.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the tests (not the bandwidth probe) to this file")
	fl.BoolVar(&noMmap, "no-mmap", false, "read the model into memory instead of memory-mapping it")
	fl.StringVar(&hugePages, "hugepages", "auto", hugePagesUsage)
	return cmd
}
