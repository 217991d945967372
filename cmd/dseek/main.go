// Command dseek runs DeepSeek-family language models on the CPU: chat in the
// terminal, an OpenAI/DeepSeek/Anthropic-compatible HTTP server, and tools to
// fetch, convert, quantize, inspect and benchmark GGUF models.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signalContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	if err := cmd.ExecuteContext(ctx); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		fmt.Fprintln(os.Stderr, "dseek:", err)
		os.Exit(1)
	}
}

// signalContext is signal.NotifyContext whose first signal also gives the
// signals back their default action, so that a second one ends a process
// stuck in work that does not watch ctx (a chat template that loops for
// ever, a long load). Otherwise `timeout`, `kill` and a second Ctrl-C were
// all swallowed for the rest of the run.
func signalContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-ch:
		case <-ctx.Done():
		}
		signal.Stop(ch) // before cancel: once ctx is done, defaults are back
		cancel()
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel()
	}
}

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
