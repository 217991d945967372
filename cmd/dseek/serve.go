package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/dseek-ai/dseek/chat"
	"github.com/dseek-ai/dseek/engine"
	"github.com/dseek-ai/dseek/server"
)

func init() { extraCommands = append(extraCommands, newServeCmd) }

// serveFlags are the flags of dseek serve besides the model flags.
type serveFlags struct {
	addr, apiKey, cacheDir, cacheSize, modelName, template string
	parallel, queue, maxSeqLen                             int
	maxBody                                                string
	shutdownTimeout, persistEvery                          time.Duration
	verbose                                                bool
}

func newServeCmd() *cobra.Command {
	var mf modelFlags
	var sf serveFlags
	cmd := &cobra.Command{
		Use:   "serve -m MODEL [--addr 127.0.0.1:8080]",
		Short: "Serve an OpenAI-, DeepSeek- and Anthropic-compatible HTTP API",
		Long: `serve loads the model and answers HTTP requests: /v1/chat/completions,
/v1/completions (with suffix for fill-in-the-middle), /v1/models,
/v1/messages (Anthropic), /health, /ready and /metrics (Prometheus).
Concurrent requests share decode steps (continuous batching, --parallel);
a prefix cache reuses the KV cache of earlier prompts (--cache-dir keeps it
across restarts). SIGINT or SIGTERM drains: running requests finish
(for at most --shutdown-timeout), queued ones get 503 at once, and the
listener closes.

The API key comes from --api-key or the DSEEK_API_KEY environment variable.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := mf.modelArg(args); err != nil {
				return err
			}
			return runServe(cmd, &mf, &sf)
		},
	}
	mf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&sf.addr, "addr", "127.0.0.1:8080", "listen address HOST:PORT")
	fl.IntVar(&sf.parallel, "parallel", 4, "requests running at once (sharing decode steps)")
	fl.IntVar(&sf.queue, "queue", 64, "requests waiting beyond --parallel before answering 429 (-1: no queue)")
	fl.StringVar(&sf.apiKey, "api-key", "", "require this key (Authorization: Bearer KEY or x-api-key); default $DSEEK_API_KEY")
	fl.StringVar(&sf.cacheDir, "cache-dir", "", "save the prefix cache here at shutdown and load it at start")
	fl.StringVar(&sf.cacheSize, "cache-size", "0", "bound on the prefix cache's KV memory, bytes (suffixes K, M, G, KiB, MiB, GiB); 0 = the KV cache; -1 = off")
	fl.StringVar(&sf.maxBody, "max-body", "16MiB", "largest request body")
	fl.IntVar(&sf.maxSeqLen, "max-seq-len", 0, "tokens per request, prompt + completion (0 = min(--ctx-size, model context))")
	fl.StringVar(&sf.modelName, "model-name", "", "model id reported by /v1/models (default: the file name without .gguf)")
	fl.StringVar(&sf.template, "template", "", "use a built-in chat format (deepseek-llm, deepseek-v3, deepseek-r1, deepseek-v3.1) instead of the model's template")
	fl.DurationVar(&sf.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long requests in flight may run after SIGINT/SIGTERM")
	fl.DurationVar(&sf.persistEvery, "cache-save-interval", 5*time.Minute, "also save a changed prefix cache when idle this often (0: only at shutdown)")
	fl.BoolVarP(&sf.verbose, "verbose", "v", false, "log the model load, requests' errors and cache events")
	return cmd
}

// runServe listens, loads the model, serves until a signal, then drains.
func runServe(cmd *cobra.Command, mf *modelFlags, sf *serveFlags) error {
	ctx, stop := signalContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opt, err := sf.options(mf)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", sf.addr)
	if err != nil {
		return err
	}
	gate := &server.Gate{}
	hs := &http.Server{Handler: gate, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	e, sched, srv, err := loadServer(ctx, mf, opt)
	if err != nil {
		hs.Close()
		if code, ok := signalExitCode(ctx); ok && errors.Is(err, context.Canceled) {
			return exitError{code} // Ctrl-C during a long load: quiet, 130
		}
		return err
	}
	defer e.Close()
	gate.Set(srv)
	stderrf("dseek: serving %s at http://%s (parallel %d, context %d tokens per request)\n", srv.ModelName(), ln.Addr(), opt.sched.Parallel, sched.MaxSeqLen())
	select {
	case <-ctx.Done():
	case err := <-served:
		sched.Shutdown(context.Background())
		return err
	}
	stderrf("dseek: shutting down (requests in flight have %s)\n", sf.shutdownTimeout)
	return drain(hs, srv, sched, sf.shutdownTimeout)
}

// serveOptions are the parsed options of the engine, scheduler and server.
type serveOptions struct {
	engine engine.Options
	sched  engine.SchedulerOptions
	server server.Options
}

// options parses the flags.
func (sf *serveFlags) options(mf *modelFlags) (serveOptions, error) {
	var o serveOptions
	var err error
	if mf.model == "" {
		return o, fmt.Errorf("no model: pass -m path/to/model.gguf")
	}
	if o.engine, err = mf.options(); err != nil {
		return o, err
	}
	if sf.parallel < 1 {
		return o, fmt.Errorf("--parallel must be at least 1")
	}
	cacheBytes, err := parseBytes(sf.cacheSize)
	if err != nil {
		return o, fmt.Errorf("--cache-size: %w", err)
	}
	maxBody, err := parseBytes(sf.maxBody)
	if err != nil || maxBody <= 0 {
		return o, fmt.Errorf("--max-body %q: want a positive size", sf.maxBody)
	}
	// Values below the documented ranges used to be taken as the defaults.
	switch {
	case cacheBytes < -1:
		return o, fmt.Errorf("--cache-size %q: want a size, 0 (bounded by the KV cache) or -1 (off)", sf.cacheSize)
	case sf.queue < -1:
		return o, fmt.Errorf("--queue %d: want a count, or -1 for no queue", sf.queue)
	case sf.maxSeqLen < 0:
		return o, fmt.Errorf("--max-seq-len %d: want a token count (0: the context size)", sf.maxSeqLen)
	case sf.shutdownTimeout < 0:
		return o, fmt.Errorf("--shutdown-timeout %s must not be negative", sf.shutdownTimeout)
	case sf.persistEvery < 0:
		return o, fmt.Errorf("--cache-save-interval %s must not be negative (0: only at shutdown)", sf.persistEvery)
	}
	key := sf.apiKey
	if key == "" {
		key = os.Getenv("DSEEK_API_KEY")
	}
	level := slog.LevelWarn
	if sf.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	queue := sf.queue
	if queue == 0 {
		queue = -1 // the flag's 0 means no queue; the library's 0 means its default
	}
	o.sched = engine.SchedulerOptions{Parallel: sf.parallel, MaxQueue: queue, MaxSeqLen: sf.maxSeqLen,
		PrefixCacheBytes: cacheBytes, CacheDir: sf.cacheDir, PersistInterval: sf.persistEvery, Logger: log}
	o.server = server.Options{ModelName: sf.modelName, APIKey: key, MaxBodyBytes: maxBody, Template: sf.template, Logger: log}
	return o, nil
}

// loadServer loads the engine and builds the scheduler and the server.
func loadServer(ctx context.Context, mf *modelFlags, o serveOptions) (*engine.Engine, *engine.Scheduler, *server.Server, error) {
	path, err := mf.path()
	if err != nil {
		return nil, nil, nil, err
	}
	start := time.Now()
	e, err := engine.Load(ctx, path, o.engine)
	if err != nil {
		return nil, nil, nil, err
	}
	if log := o.server.Logger; log != nil {
		hp, _ := e.HugePageWeights()
		log.Info("model loaded", "path", path, "seconds", time.Since(start).Seconds(), "hugepage_weight_bytes", hp)
	}
	for _, n := range ctxSizeNotes(e, mf.ctxSize) {
		stderrf("dseek: %s\n", n)
	}
	if o.server.Template == "" {
		src, _ := e.File.String("tokenizer.chat_template")
		if r, format, err := chat.ForModel(src, e.File.Architecture()); err == nil {
			if w := chatTemplateWarning(src, r, format); w != "" {
				stderrf("dseek: warning: %s\n", w)
			}
		}
	}
	sched, err := engine.NewScheduler(e, o.sched)
	if err != nil {
		e.Close()
		return nil, nil, nil, err
	}
	srv, err := server.New(e, sched, o.server)
	if err != nil {
		sched.Shutdown(context.Background())
		e.Close()
		return nil, nil, nil, err
	}
	return e, sched, srv, nil
}

// drain stops taking requests and lets those in flight finish within
// timeout; at the deadline the scheduler cancels what is left, whose
// streams then end cleanly, and the listener is closed.
func drain(hs *http.Server, srv *server.Server, sched *engine.Scheduler, timeout time.Duration) error {
	srv.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	var schedErr error
	wg.Go(func() { schedErr = sched.Shutdown(ctx) })
	httpErr := hs.Shutdown(ctx)
	wg.Wait()
	if httpErr != nil {
		// Handlers end right after the scheduler cancels their requests;
		// a client that stalls (a body never sent, a stream never read)
		// gets one more second, then its connection is closed.
		grace, cancel2 := context.WithTimeout(context.Background(), time.Second)
		defer cancel2()
		if hs.Shutdown(grace) != nil {
			hs.Close()
		}
	}
	if schedErr != nil && !errors.Is(schedErr, context.DeadlineExceeded) {
		return schedErr
	}
	return nil
}

// parseBytes parses a byte size: an integer with an optional K, M, G
// (powers of 1000) or KiB, MiB, GiB (powers of 1024) suffix. Errors quote
// the whole input ("1XB" used to be reported as "1X").
func parseBytes(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suf); ok {
			s, mult = strings.TrimSpace(v), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a byte size", orig)
	}
	if n != 0 && (n*mult)/mult != n {
		return 0, fmt.Errorf("%q is too large a byte size", orig)
	}
	return n * mult, nil
}
