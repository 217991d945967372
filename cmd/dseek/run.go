package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/sampler"
)

// sampleFlags are the sampling flags of run (llama.cpp's defaults).
type sampleFlags struct {
	temp, topP, minP                   float64
	topK, repeatLastN                  int
	repeatPenalty, presence, frequency float64
	seed                               int64
}

func (s *sampleFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.Float64Var(&s.temp, "temp", 0.8, "temperature; 0 = greedy")
	fl.IntVar(&s.topK, "top-k", 40, "keep the K most likely tokens (0 = off)")
	fl.Float64Var(&s.topP, "top-p", 0.95, "nucleus sampling threshold (1 = off)")
	fl.Float64Var(&s.minP, "min-p", 0.05, "drop tokens below this fraction of the top probability (0 = off)")
	fl.Float64Var(&s.repeatPenalty, "repeat-penalty", 1.0, "penalise repeated tokens (1 = off)")
	fl.IntVar(&s.repeatLastN, "repeat-last-n", 64, "tokens the penalties look back over (0 = off, -1 = all)")
	fl.Float64Var(&s.presence, "presence-penalty", 0, "subtract from tokens already present")
	fl.Float64Var(&s.frequency, "frequency-penalty", 0, "subtract per occurrence of a token")
	fl.Int64Var(&s.seed, "seed", -1, "random seed (-1 = random); the same seed gives the same output")
}

func (s *sampleFlags) params() (sampler.Params, error) {
	if err := s.validate(); err != nil {
		return sampler.Params{}, err
	}
	seed := uint64(s.seed)
	if s.seed < 0 {
		seed = uint64(time.Now().UnixNano())
	}
	p := sampler.Params{
		Temperature: s.temp, TopK: s.topK, TopP: s.topP, MinP: s.minP,
		RepeatPenalty: s.repeatPenalty, PresencePenalty: s.presence, FrequencyPenalty: s.frequency,
		RepeatLastN: s.repeatLastN, Seed: seed,
	}
	return p, p.Validate()
}

// validate checks the sampling flags' ranges with messages naming the
// flag; negative values (--top-k -4, --temp -1) used to be taken as "off"
// or passed through.
func (s *sampleFlags) validate() error {
	for _, f := range []struct {
		name string
		v    float64
	}{{"temp", s.temp}, {"top-p", s.topP}, {"min-p", s.minP}, {"repeat-penalty", s.repeatPenalty},
		{"presence-penalty", s.presence}, {"frequency-penalty", s.frequency}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("--%s %v: want a finite number", f.name, f.v)
		}
	}
	switch {
	case s.temp < 0:
		return fmt.Errorf("--temp %v: want 0 (greedy) or a positive temperature", s.temp)
	case s.topK < 0:
		return fmt.Errorf("--top-k %d: want 0 (off) or a positive count", s.topK)
	case s.topP < 0 || s.topP > 1:
		return fmt.Errorf("--top-p %v: want a probability in [0, 1] (1 = off)", s.topP)
	case s.minP < 0 || s.minP > 1:
		return fmt.Errorf("--min-p %v: want a fraction in [0, 1] (0 = off)", s.minP)
	case s.repeatPenalty <= 0:
		return fmt.Errorf("--repeat-penalty %v: want a positive factor (1 = off)", s.repeatPenalty)
	case s.seed < -1:
		return fmt.Errorf("--seed %d: want -1 (random) or a seed >= 0", s.seed)
	case s.repeatLastN < -1:
		return fmt.Errorf("--repeat-last-n %d: want a token count, 0 (off) or -1 (all)", s.repeatLastN)
	}
	return nil
}

type runOptions struct {
	prompt, system, think, builtin string
	nPredict                       int
	raw, verbose, ignoreEOS        bool
}

func newRunCmd() *cobra.Command {
	var mf modelFlags
	var sf sampleFlags
	var ro runOptions
	cmd := &cobra.Command{
		Use:   "run [-m] MODEL [-p PROMPT] [-n N] [--temp T] [--seed S]",
		Short: "Chat with a model, or answer one prompt with -p",
		Long: `run loads a model and, with -p, answers that one prompt and exits; without
-p it starts an interactive chat that streams tokens as they are generated.
Prompts go through the model's chat template (see "dseek template"); --raw
feeds the prompt text to the model as is (a plain completion).

In the chat: /bye or Ctrl-D quits, /clear forgets the conversation,
/set think on|off switches thinking (models that support it),
/set think show|hide shows or hides the reasoning, /? lists commands.
Ctrl-C stops the current answer and keeps the session. With -p, an answer
a signal cuts short keeps what was generated and exits with status 130
(SIGINT) or 143 (SIGTERM).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.modelArg(args); err != nil {
				return err
			}
			params, err := sf.params()
			if err != nil {
				return err
			}
			switch ro.think {
			case "show", "hide", "on", "off":
			default:
				return fmt.Errorf("--think %q: want show, hide, on or off", ro.think)
			}
			// The engine reads MaxTokens <= 0 as "no limit"; -n 0 used to
			// generate without limit instead of nothing.
			if ro.nPredict == 0 || ro.nPredict < -1 {
				return fmt.Errorf("--n-predict %d: want -1 (no limit) or a positive count", ro.nPredict)
			}
			start := time.Now()
			e, err := mf.load(cmd)
			if err != nil {
				return err
			}
			defer e.Close()
			if ro.verbose {
				fmt.Fprintf(cmd.ErrOrStderr(), "[loaded in %.2f s; %s]\n", time.Since(start).Seconds(), weightsWhere(e))
			}
			c, err := newChatter(e, ro, params, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			onLoadedForTest()
			if cmd.Flags().Changed("prompt") {
				c.oneShotMode = true
				return c.oneShot(cmd.Context(), ro.prompt)
			}
			return c.repl(cmd.Context(), cmd.InOrStdin())
		},
	}
	mf.register(cmd)
	sf.register(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&ro.prompt, "prompt", "p", "", "answer this prompt and exit")
	fl.IntVarP(&ro.nPredict, "n-predict", "n", -1, "maximum tokens to generate per answer (-1 = until the end of the answer or a full context)")
	fl.StringVar(&ro.system, "system", "", "system prompt")
	fl.StringVar(&ro.think, "think", "show", "reasoning: show (dimmed), hide, on (switch thinking on, shown; V3.1), or off (no thinking: V3.1 switches it off, R1-style templates get their think block closed)")
	fl.StringVar(&ro.builtin, "template", "", "use a built-in chat format instead of the file's template: deepseek-llm, deepseek-v3, deepseek-r1, deepseek-v3.1")
	fl.BoolVar(&ro.raw, "raw", false, "no chat template: the prompt is raw text (special tokens parsed, BOS added)")
	fl.BoolVar(&ro.ignoreEOS, "ignore-eos", false, "keep generating after the end-of-generation token")
	fl.BoolVar(&ro.verbose, "verbose", false, "print the load time and where the weights live, and timings after each answer")
	return cmd
}

// onLoadedForTest is called once run has loaded the model (tests interrupt
// the answer there).
var onLoadedForTest = func() {}

// chatter runs conversations on one engine sequence.
type chatter struct {
	e       *engine.Engine
	seq     *engine.Sequence
	cs      *chatSetup
	opt     runOptions
	params  sampler.Params
	history []chat.Message
	show    bool // display reasoning
	think   *bool
	tty     bool
	out     *countWriter // the answers (stdout)
	// oneShotMode: -p; an interruption ends the process (exit status)
	// instead of printing [stopped].
	oneShotMode bool
	errOut      io.Writer // warnings and notes (stderr)
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func newChatter(e *engine.Engine, ro runOptions, p sampler.Params, out, errOut io.Writer) (*chatter, error) {
	c := &chatter{e: e, seq: e.NewSequence(), opt: ro, params: p, out: &countWriter{w: out}, errOut: errOut, show: ro.think == "show"}
	if f, ok := out.(*os.File); ok {
		c.tty = term.IsTerminal(int(f.Fd()))
	}
	switch ro.think {
	case "off":
		f := false
		c.think = &f
	case "on":
		t := true
		c.think = &t
		c.show = true
	}
	if !ro.raw {
		cs, err := newChatSetup(e.File, e.Tokenizer, ro.builtin)
		if err != nil {
			return nil, err
		}
		if cs.warning != "" {
			fmt.Fprintf(errOut, "dseek: warning: %s\n", cs.warning)
		}
		c.cs = cs
	}
	if ro.system != "" {
		c.history = append(c.history, chat.Message{Role: "system", Content: ro.system})
	}
	return c, nil
}

// oneShot answers one prompt (-p). An answer a signal interrupted ends the
// process with 130 (SIGINT) or 143 (SIGTERM) after what was generated, as
// a shell reports an interrupted command; it used to print [stopped] and
// exit 0, so scripts could not tell a cut answer from a whole one.
func (c *chatter) oneShot(ctx context.Context, prompt string) error {
	ctx, stop := signalContext(ctx, os.Interrupt)
	defer stop()
	before := c.out.n
	st, err := c.turn(ctx, prompt)
	if c.out.n > before {
		fmt.Fprintln(c.out) // end the answer's line; nothing to end before an error
	}
	if err != nil {
		return err
	}
	if st.StopReason == engine.StopCancelled {
		if code, ok := signalExitCode(ctx); ok {
			return exitError{code}
		}
		return exitError{130}
	}
	return nil
}

// turn renders the conversation plus the new user text, generates, streams
// the answer and records it in the history.
func (c *chatter) turn(ctx context.Context, user string) (engine.GenerateStats, error) {
	var ids []int32
	format, startInReasoning := chat.FormatDeepSeekV3, false
	if c.cs == nil {
		ids = c.e.Tokenizer.Encode(user, true, true)
	} else {
		msgs := append(append([]chat.Message{}, c.history...), chat.Message{Role: "user", Content: user})
		text, spans, err := chat.RenderPrompt(c.cs.renderer, msgs, chat.RenderOptions{AddGenerationPrompt: true, Thinking: c.think, BOS: c.cs.bos, EOS: c.cs.eos})
		if err != nil {
			return engine.GenerateStats{}, err
		}
		ids = c.e.Tokenizer.EncodeSpans(text, !chat.StartsWithBOS(text, c.cs.bos), spans)
		format, startInReasoning = c.cs.format, chat.EndsInReasoning(text)
	}
	parser, err := chat.NewParser(format, chat.ParserOptions{StartInReasoning: startInReasoning, TrimSpace: true})
	if err != nil {
		return engine.GenerateStats{}, err
	}
	dec := c.e.Tokenizer.NewStreamDecoder(true)
	var content, reasoning strings.Builder
	w := &thinkWriter{out: c.out, show: c.show, dim: c.tty}
	emit := func(d chat.Delta) {
		reasoning.WriteString(d.Reasoning)
		content.WriteString(d.Content)
		w.write(d)
	}
	opt := engine.GenerateOptions{MaxTokens: c.opt.nPredict, Sampler: sampler.New(c.params), IgnoreEOG: c.opt.ignoreEOS}
	st, err := c.seq.Generate(ctx, ids, opt, func(id int32) bool {
		if !c.opt.ignoreEOS && c.e.Tokenizer.IsEOG(id) {
			return true
		}
		piece := dec.Add(id)
		if c.cs == nil {
			w.write(chat.Delta{Content: piece})
			return true
		}
		if d, err := parser.Add(piece); err == nil {
			emit(d)
		}
		return true
	})
	if c.cs == nil {
		w.write(chat.Delta{Content: dec.Flush()})
	} else {
		if d, err := parser.Add(dec.Flush()); err == nil {
			emit(d)
		}
		if d, err := parser.Finish(); err == nil {
			emit(d)
		}
	}
	w.close()
	if err != nil {
		return st, err
	}
	if c.cs != nil {
		c.history = append(c.history,
			chat.Message{Role: "user", Content: user},
			chat.Message{Role: "assistant", Content: content.String(), ReasoningContent: reasoning.String()})
	}
	if st.StopReason == engine.StopCancelled && !c.oneShotMode {
		fmt.Fprint(c.out, "\n[stopped]")
	}
	if !c.show && content.Len() == 0 && reasoning.Len() > 0 && st.StopReason == engine.StopLength {
		// --think hide used to print nothing at all here.
		fmt.Fprintf(c.errOut, "[reasoning hidden; the answer did not start within -n %d tokens]\n", c.opt.nPredict)
	}
	if c.opt.verbose {
		stderrf("\n[prompt %s (%d cached) in %.2fs, %.1f t/s; generated %s in %.2fs, %.1f t/s; %s]\n",
			tokens(st.PromptTokens), st.CachedTokens, st.PromptTime.Seconds(), rate(st.PromptTokens-st.CachedTokens, st.PromptTime),
			tokens(st.GeneratedTokens), st.GenerateTime.Seconds(), rate(st.GeneratedTokens, st.GenerateTime), st.StopReason)
	}
	return st, nil
}

// tokens formats a token count: "1 token", "7 tokens".
func tokens(n int) string {
	if n == 1 {
		return "1 token"
	}
	return fmt.Sprintf("%d tokens", n)
}

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// thinkWriter prints deltas: reasoning dimmed (on a terminal) or hidden.
type thinkWriter struct {
	out       io.Writer
	show, dim bool
	inThink   bool
}

func (w *thinkWriter) write(d chat.Delta) {
	if d.Reasoning != "" && w.show {
		if !w.inThink {
			w.inThink = true
			if w.dim {
				fmt.Fprint(w.out, "\x1b[2m")
			} else {
				fmt.Fprint(w.out, "<think>")
			}
		}
		fmt.Fprint(w.out, d.Reasoning)
	}
	if d.Content != "" {
		w.endThink()
		fmt.Fprint(w.out, d.Content)
	}
	for _, tc := range d.ToolCalls {
		w.endThink()
		fmt.Fprintf(w.out, "\n[tool call %s(%s)]\n", tc.Function.Name, tc.Function.Arguments)
	}
}

func (w *thinkWriter) endThink() {
	if !w.inThink {
		return
	}
	w.inThink = false
	if w.dim {
		fmt.Fprint(w.out, "\x1b[0m\n")
	} else {
		fmt.Fprint(w.out, "</think>\n")
	}
}

func (w *thinkWriter) close() { w.endThink() }

const replHelp = `commands:
  /bye              quit (also Ctrl-D)
  /clear            forget the conversation
  /set think on     let the model think (models that support switching)
  /set think off    ask the model not to think
  /set think show   show the reasoning (dimmed)
  /set think hide   hide the reasoning
  /?                this help
Ctrl-C stops the current answer.`

// repl is the interactive chat. SIGINT cancels the answer in progress only.
func (c *chatter) repl(ctx context.Context, in io.Reader) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	var mu sync.Mutex
	var cancel context.CancelFunc
	go func() {
		for range sig {
			mu.Lock()
			if cancel != nil {
				cancel()
			} else {
				fmt.Fprint(c.out, "\n(use /bye or Ctrl-D to quit)\n>>> ")
			}
			mu.Unlock()
		}
	}()
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for {
		fmt.Fprint(c.out, ">>> ")
		if !sc.Scan() {
			fmt.Fprintln(c.out)
			return sc.Err()
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "/") {
			if quit := c.command(line); quit {
				return nil
			}
			continue
		}
		tctx, tcancel := context.WithCancel(ctx)
		mu.Lock()
		cancel = tcancel
		mu.Unlock()
		before := c.out.n
		_, err := c.turn(tctx, line)
		mu.Lock()
		cancel = nil
		mu.Unlock()
		tcancel()
		if c.out.n > before {
			fmt.Fprintln(c.out)
		}
		if err != nil {
			if errors.Is(err, engine.ErrContextFull) {
				fmt.Fprintf(c.out, "error: %v (use /clear to start over)\n", err)
				continue
			}
			return err
		}
		if ctx.Err() != nil {
			if code, ok := signalExitCode(ctx); ok {
				return exitError{code} // SIGTERM: end the session as a shell reports it
			}
			return nil
		}
	}
}

// command handles a /command; it returns true to quit.
func (c *chatter) command(line string) bool {
	f := strings.Fields(line)
	switch {
	case f[0] == "/bye" || f[0] == "/exit":
		return true
	case f[0] == "/clear":
		c.history = c.history[:0]
		if c.opt.system != "" {
			c.history = append(c.history, chat.Message{Role: "system", Content: c.opt.system})
		}
		c.seq.Truncate(0)
		fmt.Fprintln(c.out, "cleared")
	case f[0] == "/?" || f[0] == "/help":
		fmt.Fprintln(c.out, replHelp)
	case f[0] == "/set" && (len(f) != 3 || f[1] != "think"):
		// "/set think" without a value used to be an "unknown command".
		fmt.Fprintln(c.out, "usage: /set think on|off|show|hide")
	case f[0] == "/set":
		switch f[2] {
		case "on", "off":
			on := f[2] == "on"
			c.think = &on
		case "show":
			c.show = true
		case "hide":
			c.show = false
		default:
			fmt.Fprintln(c.out, "usage: /set think on|off|show|hide")
			return false
		}
		fmt.Fprintf(c.out, "think %s\n", f[2])
	default:
		fmt.Fprintf(c.out, "unknown command %q; /? lists commands\n", line)
	}
	return false
}
