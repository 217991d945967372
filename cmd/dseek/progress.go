package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// newByteBar returns a progress bar on stderr for total bytes with speed
// and ETA, starting at have bytes. Its Add64 is safe for concurrent use.
// When stderr is not a terminal (a log file, a pipe) the bar draws
// nothing: its carriage-return redraws would only clutter the log.
func newByteBar(desc string, total, have int64) *progressbar.ProgressBar {
	visible := term.IsTerminal(int(os.Stderr.Fd()))
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetVisibility(visible),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionOnCompletion(func() {
			if visible {
				fmt.Fprintln(os.Stderr)
			}
		}),
	)
	if have > 0 {
		bar.Set64(have)
	}
	return bar
}

// barProgress adapts a bar to a (done, total) progress callback.
func barProgress(desc string) (func(done, total int64), func()) {
	var (
		mu  sync.Mutex
		bar *progressbar.ProgressBar
	)
	update := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		if bar == nil {
			bar = newByteBar(desc, total, 0)
		}
		bar.Set64(done)
	}
	finish := func() {
		mu.Lock()
		defer mu.Unlock()
		if bar != nil {
			bar.Finish()
		}
	}
	return update, finish
}
