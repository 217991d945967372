package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/kernels"
	"github.com/dseek-ai/dseek/store"
)

// version is set at build time with -ldflags "-X main.version=..."; a plain
// go build or go install from a git checkout reports the commit instead.
var version = "dev"

func buildVersion() string {
	if version != "dev" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	if info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return version
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return "dev-" + rev
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dseek",
		Short:         "Run DeepSeek models on the CPU",
		Long:          "dseek runs DeepSeek-family GGUF models (deepseek2: V2/V2-Lite/V3/R1/V3.1; qwen2 and llama: R1-Distill, DeepSeek-LLM) on the CPU.",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newLogitsCmd(), newTokenizeCmd(), newDetokenizeCmd(), newShowCmd())
	for _, f := range extraCommands {
		root.AddCommand(f())
	}
	return root
}

// extraCommands are added by the files of further subcommands (serve, bench,
// synth, pull, ...) from their init functions, so each lives in its own file.
var extraCommands []func() *cobra.Command

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model     string
	threads   int
	ctxSize   int
	kvType    string
	precision string
	noMmap    bool
	hugePages string
	ubatch    int
}

func (f *modelFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.model, "model", "m", "", "model: path to a GGUF file (part 1 of a split model) or a name from dseek list")
	fl.IntVarP(&f.threads, "threads", "t", 0, "compute threads (0 = all cores)")
	fl.IntVarP(&f.ctxSize, "ctx-size", "c", 0, "KV cache size in tokens (0 = min(model context, 4096))")
	fl.StringVar(&f.kvType, "kv-type", "f16", "KV cache element type: f16 or f32")
	fl.StringVar(&f.precision, "precision", "auto", "activations for F16/BF16 weights: auto (f16 for F16 weights as llama.cpp, f32 for BF16), f32 (exact), or ggml (rounded to the weight type, as llama.cpp)")
	fl.BoolVar(&f.noMmap, "no-mmap", false, "read the model into memory instead of memory-mapping it")
	fl.StringVar(&f.hugePages, "hugepages", "auto", hugePagesUsage)
	fl.IntVarP(&f.ubatch, "ubatch-size", "u", 512, "prompt tokens per forward pass")
}

func (f *modelFlags) options() (engine.Options, error) {
	o := engine.Options{Threads: f.threads, CtxSize: f.ctxSize, NoMmap: f.noMmap, UBatch: f.ubatch}
	var err error
	if o.HugePages, err = engine.ParseHugePages(f.hugePages); err != nil {
		return o, err
	}
	switch f.kvType {
	case "f16", "F16":
	case "f32", "F32":
		o.KVF32 = true
	default:
		return o, fmt.Errorf("--kv-type %q: want f16 or f32", f.kvType)
	}
	switch f.precision {
	case "auto":
		o.Precision = kernels.PrecisionAuto
	case "f32":
		o.Precision = kernels.PrecisionF32
	case "ggml":
		o.Precision = kernels.PrecisionGGML
	default:
		return o, fmt.Errorf("--precision %q: want auto, f32 or ggml", f.precision)
	}
	if f.ubatch <= 0 {
		return o, fmt.Errorf("--ubatch-size must be positive")
	}
	// Negative values used to mean the default silently; a huge thread count
	// started that many workers (-t 100000: 300 MB of goroutine stacks).
	if f.threads < 0 || f.threads > maxThreads {
		return o, fmt.Errorf("--threads %d: want 1 to %d (0: all cores)", f.threads, maxThreads)
	}
	if f.ctxSize < 0 {
		return o, fmt.Errorf("--ctx-size %d: want a token count (0: the default)", f.ctxSize)
	}
	return o, nil
}

// maxThreads is ggml's GGML_MAX_N_THREADS.
const maxThreads = 512

// modelArg lets the model be given as the one positional argument
// (`dseek run deepseek-r1:1.5b`), as ollama users type it, instead of -m.
func (f *modelFlags) modelArg(args []string) error {
	switch {
	case len(args) == 0:
		return nil
	case len(args) > 1:
		return fmt.Errorf("too many arguments %q: give one model (or -m)", args)
	case f.model != "":
		return fmt.Errorf("model given twice: -m %s and %s", f.model, args[0])
	}
	f.model = args[0]
	return nil
}

// path resolves -m: a GGUF path, or the name of a model in the local store
// (see dseek list / dseek pull).
func (f *modelFlags) path() (string, error) {
	if f.model == "" {
		return "", fmt.Errorf("no model: pass -m path/to/model.gguf or a name from dseek list")
	}
	return store.Resolve(f.model)
}

func (f *modelFlags) load(cmd *cobra.Command) (*engine.Engine, error) {
	path, err := f.path()
	if err != nil {
		return nil, err
	}
	opt, err := f.options()
	if err != nil {
		return nil, err
	}
	e, err := engine.Load(cmd.Context(), path, opt)
	if err != nil {
		return nil, err
	}
	for _, n := range ctxSizeNotes(e, f.ctxSize) {
		fmt.Fprintf(cmd.ErrOrStderr(), "dseek: %s\n", n)
	}
	return e, nil
}

// ctxSizeNotes returns what to tell the user about an explicit --ctx-size
// (requested > 0) on the loaded engine: a note when the KV cache rounds it
// up to whole pages, and a warning when it exceeds the model's training
// context (as llama.cpp warns). Both changes used to be silent: -c 16 gave
// 32 tokens, -c 100000 on a model trained for 256 said nothing. serve can
// print the same lines.
func ctxSizeNotes(e *engine.Engine, requested int) []string {
	if requested <= 0 {
		return nil
	}
	var notes []string
	ps := e.Cache.Config().PageSize
	if got := e.Cache.MaxPages() * ps; got != requested {
		notes = append(notes, fmt.Sprintf("note: --ctx-size %d rounded up to %d (KV cache pages of %d tokens)", requested, got, ps))
	}
	if train := e.Model.Config.NCtxTrain; train > 0 && requested > train {
		notes = append(notes, fmt.Sprintf("warning: --ctx-size %d exceeds the model's training context of %d tokens; quality degrades beyond it", requested, train))
	}
	return notes
}

func stderrf(format string, a ...any) { fmt.Fprintf(os.Stderr, format, a...) }

// hugePagesUsage documents --hugepages (shared by every model command and
// bench).
const hugePagesUsage = "copy the multiplied weights into transparent huge pages for faster decode: auto (when Linux THP is enabled and they fit in available memory), on, or off (keep them in the file mapping)"

// copiedWhere says where --hugepages copied n bytes of weights, for
// messages: huge is whether the region got transparent huge pages.
func copiedWhere(n int64, huge bool) string {
	where := "transparent huge pages"
	if !huge {
		where = "private memory (transparent huge pages are not enabled)"
	}
	return fmt.Sprintf("%.1f MiB of weights copied into %s", float64(n)/(1<<20), where)
}

// weightsWhere says where the loaded engine's weights live, for --verbose.
func weightsWhere(e *engine.Engine) string {
	n, huge := e.HugePageWeights()
	switch {
	case n == 0 && e.Options().NoMmap:
		return "weights read into memory (--no-mmap)"
	case n == 0:
		return "weights in the file mapping (--hugepages off, or auto found no room, no THP, or a failed copy)"
	}
	return copiedWhere(n, huge)
}
