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
	"sync"
	"syscall"
	"time"
)

// termGrace is how long a command may take to return after the first
// SIGTERM cancelled its context before main exits anyway (143, as a shell
// reports a process SIGTERM ended). A command blocked in work that does not
// watch the context (reading a named pipe, a long load) used to ignore a
// single SIGTERM until a second one came.
const termGrace = 2 * time.Second

func main() {
	ctx, stop := graceSignalContext(context.Background(), termGrace, syscall.SIGTERM)
	defer stop()
	cmd := newRootCmd()
	err := cmd.ExecuteContext(ctx)
	if code := exitCode(ctx, err); code != 0 {
		stop()
		os.Exit(code)
	}
}

// exitCode reports err (unless it only says the command was interrupted) and
// returns the process exit status: an exitError's code, 128+N when signal N
// interrupted the command (130 for SIGINT, 143 for SIGTERM), 1 for other
// errors, 0 for none.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	code, interrupted := signalExitCode(ctx)
	if !interrupted || !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "dseek:", err)
	}
	if interrupted {
		return code
	}
	return 1
}

// signalCause is the cause (context.Cause) of a context that a signal
// cancelled.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "interrupted by " + c.sig.String() }

// exitCode is what a shell reports for a process the signal ended:
// 128 + the signal number.
func (c signalCause) exitCode() int {
	if s, ok := c.sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 1
}

// signalExitCode returns the exit status for a ctx that a signal cancelled
// (130 for SIGINT, 143 for SIGTERM), and false when no signal did.
func signalExitCode(ctx context.Context) (int, bool) {
	var sc signalCause
	if ctx.Err() != nil && errors.As(context.Cause(ctx), &sc) {
		return sc.exitCode(), true
	}
	return 0, false
}

// claimed counts, per signal, the signalContext handlers active: a command
// that handles a signal itself (serve drains on SIGTERM for up to
// --shutdown-timeout) turns off main's grace-period exit for it.
var claimed = struct {
	sync.Mutex
	n map[os.Signal]int
}{n: map[os.Signal]int{}}

func isClaimed(sig os.Signal) bool {
	claimed.Lock()
	defer claimed.Unlock()
	return claimed.n[sig] > 0
}

// signalContext is signal.NotifyContext whose first signal also gives the
// signals back their default action, so that a second one ends a process
// stuck in work that does not watch ctx (a chat template that loops for
// ever, a long load). Otherwise `timeout`, `kill` and a second Ctrl-C were
// all swallowed for the rest of the run. The cause of a signalled ctx is a
// signalCause (see signalExitCode). While it is active, the command handles
// these signals itself: main does not force an exit after its grace period.
func signalContext(parent context.Context, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	claimed.Lock()
	for _, s := range sigs {
		claimed.n[s]++
	}
	claimed.Unlock()
	ctx, stop := notifyContext(parent, 0, sigs...)
	var once sync.Once
	return ctx, func() {
		stop()
		once.Do(func() {
			claimed.Lock()
			for _, s := range sigs {
				claimed.n[s]--
			}
			claimed.Unlock()
		})
	}
}

// graceSignalContext is main's signalContext: after the first signal, if
// the command has not returned within grace (and no inner signalContext
// handles that signal), the process exits with 128+N.
func graceSignalContext(parent context.Context, grace time.Duration, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	return notifyContext(parent, grace, sigs...)
}

// onSignalsReady is called once the handlers of notifyContext are
// installed (a hook for tests that send signals).
var onSignalsReady = func() {}

func notifyContext(parent context.Context, grace time.Duration, sigs ...os.Signal) (context.Context, context.CancelFunc) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	onSignalsReady()
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		var got os.Signal
		select {
		case got = <-ch:
		case <-ctx.Done():
		}
		signal.Stop(ch) // before cancel: once ctx is done, defaults are back
		if got == nil {
			cancel(nil)
			return
		}
		cause := signalCause{got}
		cancel(cause)
		if grace > 0 && !isClaimed(got) {
			time.AfterFunc(grace, func() {
				fmt.Fprintf(os.Stderr, "dseek: %s; still busy after %s, exiting\n", got, grace)
				os.Exit(cause.exitCode())
			})
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// exitError carries an exit code without printing anything more.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
