//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondSignalKills: the first SIGTERM cancels the command's context;
// the second must end the process even when the work in progress ignores
// the context (a GGUF chat template that loops for ever did: `timeout` and
// `kill` could not stop dseek, which grew to 23 GB). The test re-runs its
// own binary as the child; the 60 s limit only keeps a regression from
// hanging the suite.
func TestSecondSignalKills(t *testing.T) {
	if os.Getenv("DSEEK_SIGNAL_CHILD") == "1" {
		ctx, stop := signalContext(context.Background(), syscall.SIGTERM)
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("cancelled")
		time.Sleep(time.Hour) // stuck in work that does not watch ctx
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSecondSignalKills$")
	cmd.Env = append(os.Environ(), "DSEEK_SIGNAL_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		for _, want := range []string{"ready", "cancelled"} {
			line, err := r.ReadString('\n')
			if err != nil || strings.TrimSpace(line) != want {
				done <- fmt.Errorf("child said %q (%v), want %q", line, err, want)
				return
			}
			cmd.Process.Signal(syscall.SIGTERM)
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("child: %v, want it killed by SIGTERM", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Fatalf("child ended with %v, want killed by SIGTERM", ee)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the second SIGTERM did not end the child")
	}
}
