//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

// TestTermGraceExits: one SIGTERM ends a command blocked in work that does
// not watch the context (tokenize -f - reading a stdin no one writes) with
// exit status 143 after the grace period; it used to do nothing until a
// second signal. The child is this test binary running main.
func TestTermGraceExits(t *testing.T) {
	if os.Getenv("DSEEK_GRACE_CHILD") != "" {
		onSignalsReady = func() { fmt.Println("ready") }
		os.Args = []string{"dseek", "tokenize", "-m", os.Getenv("DSEEK_GRACE_CHILD"), "-f", "-"}
		main()
		return
	}
	model := fixture(t, "models/ds3-tiny-Q4_K_M.gguf")
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	defer stdinW.Close() // held open: the child's read never ends by itself
	cmd := exec.Command(os.Args[0], "-test.run=^TestTermGraceExits$")
	cmd.Env = append(os.Environ(), "DSEEK_GRACE_CHILD="+model)
	cmd.Stdin = stdin
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var sent time.Time
	go func() {
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "ready" {
			done <- fmt.Errorf("child said %q (%v), want ready", line, err)
			return
		}
		time.Sleep(500 * time.Millisecond) // let tokenize load and block on stdin
		sent = time.Now()
		cmd.Process.Signal(syscall.SIGTERM)
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 143 {
			t.Fatalf("child: %v, want exit status 143; stderr %q", err, stderr.String())
		}
		if d := time.Since(sent); d < termGrace/2 {
			t.Errorf("exited %s after SIGTERM, before the grace period", d)
		}
		if !strings.Contains(stderr.String(), "still busy") {
			t.Errorf("stderr %q", stderr.String())
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("one SIGTERM did not end the child")
	}
}

// TestTermGraceClaimed: a command that handles SIGTERM itself (serve drains
// requests for up to --shutdown-timeout) through signalContext is not cut
// short by main's grace-period exit.
func TestTermGraceClaimed(t *testing.T) {
	if os.Getenv("DSEEK_CLAIM_CHILD") == "1" {
		ctx, stop := graceSignalContext(context.Background(), 500*time.Millisecond, syscall.SIGTERM)
		defer stop()
		inner, stopInner := signalContext(ctx, syscall.SIGTERM)
		defer stopInner()
		fmt.Println("ready")
		<-inner.Done()
		time.Sleep(1500 * time.Millisecond) // draining, longer than the grace
		fmt.Println("drained")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestTermGraceClaimed$")
	cmd.Env = append(os.Environ(), "DSEEK_CLAIM_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(out)
	if line, err := r.ReadString('\n'); err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		t.Fatalf("child said %q (%v)", line, err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(r)
	if err := cmd.Wait(); err != nil || !strings.Contains(string(rest), "drained") {
		t.Fatalf("child: %v, output %q; want it to finish draining and exit 0", err, rest)
	}
}
