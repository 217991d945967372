package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DownloadOptions tunes Download.
type DownloadOptions struct {
	Parallel  int           // concurrent range requests; 0 = 4
	ChunkSize int64         // bytes per range request; 0 = 64 MiB
	Retries   int           // attempts without progress before giving up; 0 = 5
	Backoff   time.Duration // first retry delay (doubles, max 8 s); 0 = 500 ms
	Progress  func(n int64) // called with every n bytes received (not with bytes a resumed download already had)
	openPart  func(string) (partFile, error)
}

// partFile is the partial download (an *os.File; replaceable in tests).
type partFile interface {
	io.WriterAt
	io.ReaderAt
	Truncate(int64) error
	Sync() error
	Close() error
}

// ErrChecksum is returned (wrapped) when a finished download does not have
// the sha256 the repository lists.
var ErrChecksum = errors.New("sha256 mismatch")

// partState is the sidecar (<part>.json) that makes a download resumable:
// the object it belongs to and the bytes completed in each chunk.
type partState struct {
	SHA256 string  `json:"sha256"`
	Size   int64   `json:"size"`
	Chunk  int64   `json:"chunk"`
	Done   []int64 `json:"done"`
}

// download is one file transfer in progress.
type download struct {
	c     *Client
	url   string
	part  string
	opt   DownloadOptions
	f     partFile
	mu    sync.Mutex
	st    partState
	saved time.Time
}

// Download fetches url (size bytes, sha256 hex digest want) into the file
// part, resuming from what an earlier interrupted call left in part and
// part+".json": missing byte ranges are requested with HTTP Range requests,
// up to opt.Parallel at once; dropped connections are retried from where
// they stopped. On success part holds the verified file and the sidecar is
// removed; on a checksum mismatch both are deleted and ErrChecksum is
// returned; on other errors both are kept for the next attempt. Errors:
// *StatusError (401/403/404...), ErrChecksum, disk full, ctx cancelled.
func (c *Client) Download(ctx context.Context, url string, size int64, want, part string, opt DownloadOptions) error {
	if opt.Parallel <= 0 {
		opt.Parallel = 4
	}
	if opt.ChunkSize <= 0 {
		opt.ChunkSize = 64 << 20
	}
	if opt.Retries <= 0 {
		opt.Retries = 5
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 500 * time.Millisecond
	}
	if opt.openPart == nil {
		opt.openPart = func(p string) (partFile, error) { return os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644) }
	}
	d := &download{c: c, url: url, part: part, opt: opt}
	if err := d.open(size, want); err != nil {
		return err
	}
	err := d.run(ctx)
	if serr := d.save(true); err == nil {
		err = serr
	}
	if cerr := d.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return d.verify(want)
}

// open loads or starts the partial state.
func (d *download) open(size int64, want string) error {
	var st partState
	if b, err := os.ReadFile(d.part + ".json"); err == nil && json.Unmarshal(b, &st) == nil &&
		st.SHA256 == want && st.Size == size && st.Chunk == d.opt.ChunkSize && len(st.Done) == nChunks(size, st.Chunk) {
		d.st = st
	} else {
		d.st = partState{SHA256: want, Size: size, Chunk: d.opt.ChunkSize, Done: make([]int64, nChunks(size, d.opt.ChunkSize))}
		os.Remove(d.part)
	}
	f, err := d.opt.openPart(d.part)
	if err != nil {
		return fmt.Errorf("hub: %w", err)
	}
	if fi, err := os.Stat(d.part); err != nil || fi.Size() != size {
		// The partial data is gone or unusable: start over.
		clear(d.st.Done)
		if err := f.Truncate(size); err != nil {
			f.Close()
			return diskErr(d.part, err)
		}
	}
	d.f = f
	return nil
}

func nChunks(size, chunk int64) int {
	if size == 0 {
		return 0
	}
	return int((size + chunk - 1) / chunk)
}

// run downloads every incomplete chunk with opt.Parallel workers.
func (d *download) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, len(d.st.Done))
	var wg sync.WaitGroup
	for range d.opt.Parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := d.chunk(ctx, i); err != nil {
					errs <- err
					cancel()
				}
			}
		}()
	}
	for i := range d.st.Done {
		if d.remaining(i) > 0 {
			select {
			case jobs <- i:
			case <-ctx.Done():
			}
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var first error
	for e := range errs {
		if first == nil || errors.Is(first, context.Canceled) {
			first = e
		}
	}
	if first == nil {
		first = ctx.Err()
	}
	return first
}

func (d *download) bounds(i int) (start, end int64) {
	start = int64(i) * d.st.Chunk
	return start, min(start+d.st.Chunk, d.st.Size)
}

func (d *download) remaining(i int) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	s, e := d.bounds(i)
	return e - s - d.st.Done[i]
}

// chunk fetches the rest of chunk i, retrying dropped connections.
func (d *download) chunk(ctx context.Context, i int) error {
	fails := 0
	for d.remaining(i) > 0 {
		got, err := d.fetch(ctx, i)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !retryable(err) {
			return err
		}
		if got > 0 {
			fails = 0
		}
		if fails++; fails > d.opt.Retries {
			return fmt.Errorf("hub: downloading %s: giving up after %d attempts: %w", d.url, fails, err)
		}
		wait := d.opt.Backoff << min(fails-1, 4)
		select {
		case <-time.After(min(wait, 8*time.Second)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// fetch does one range request for the missing part of chunk i and writes
// what arrives; it returns the bytes received.
func (d *download) fetch(ctx context.Context, i int) (int64, error) {
	s, e := d.bounds(i)
	d.mu.Lock()
	off := s + d.st.Done[i]
	d.mu.Unlock()
	req, err := d.c.newRequest(ctx, d.url)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, e-1))
	resp, err := d.c.http().Do(req)
	if err != nil {
		return 0, netErr{err}
	}
	defer resp.Body.Close()
	if err := d.checkResponse(resp, off, e); err != nil {
		return 0, err
	}
	return d.copyBody(resp.Body, i, off, e)
}

// checkResponse accepts 206 with the requested Content-Range (or 200 for a
// request of the whole file) and an X-Linked-Etag, if any, equal to the
// expected sha256.
func (d *download) checkResponse(resp *http.Response, off, end int64) error {
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		var a, b, t int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &a, &b, &t); err != nil || a != off || b != end-1 || t != d.st.Size {
			return fmt.Errorf("hub: %s: Content-Range %q does not answer bytes=%d-%d of %d", d.url, resp.Header.Get("Content-Range"), off, end-1, d.st.Size)
		}
	case resp.StatusCode == http.StatusOK && off == 0 && end == d.st.Size:
	case resp.StatusCode == http.StatusOK:
		return fmt.Errorf("hub: %s: the server ignored a Range request (HTTP 200)", d.url)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return netErr{statusError(resp, d.url, d.c.Token)}
	default:
		return statusError(resp, d.url, d.c.Token)
	}
	for r := resp.Request.Response; r != nil; r = r.Request.Response {
		if et := unquoteETag(r.Header.Get("X-Linked-Etag")); et != "" && d.st.SHA256 != "" && et != d.st.SHA256 {
			return fmt.Errorf("hub: %s: the hub serves object %s, the repository listing says %s (the file changed; pull again)", d.url, et, d.st.SHA256)
		}
	}
	return nil
}

func unquoteETag(s string) string {
	return strings.Trim(strings.TrimPrefix(s, "W/"), `"`)
}

// copyBody writes the response body at its offset, recording progress.
func (d *download) copyBody(body io.Reader, i int, off, end int64) (int64, error) {
	buf := make([]byte, 1<<20)
	var got int64
	for off < end {
		n, rerr := body.Read(buf[:min(int64(len(buf)), end-off)])
		if n > 0 {
			if _, err := d.f.WriteAt(buf[:n], off); err != nil {
				return got, diskErr(d.part, err)
			}
			off += int64(n)
			got += int64(n)
			d.mu.Lock()
			d.st.Done[i] += int64(n)
			d.mu.Unlock()
			if d.opt.Progress != nil {
				d.opt.Progress(int64(n))
			}
			d.save(false)
		}
		if rerr == io.EOF && off < end {
			return got, netErr{io.ErrUnexpectedEOF}
		}
		if rerr != nil && rerr != io.EOF {
			return got, netErr{rerr}
		}
	}
	return got, nil
}

// save persists the sidecar, at most once a second unless force.
func (d *download) save(force bool) error {
	d.mu.Lock()
	if !force && time.Since(d.saved) < time.Second {
		d.mu.Unlock()
		return nil
	}
	d.saved = time.Now()
	b, _ := json.Marshal(d.st)
	d.mu.Unlock()
	if err := d.f.Sync(); err != nil {
		return diskErr(d.part, err)
	}
	tmp := d.part + ".json.tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return diskErr(d.part, err)
	}
	return os.Rename(tmp, d.part+".json")
}

// verify hashes the finished part and removes the sidecar, or deletes
// both on a mismatch.
func (d *download) verify(want string) error {
	f, err := os.Open(d.part)
	if err != nil {
		return err
	}
	h := sha256.New()
	_, err = io.Copy(h, f)
	f.Close()
	if err != nil {
		return err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want != "" && !strings.EqualFold(got, want) {
		os.Remove(d.part)
		os.Remove(d.part + ".json")
		return fmt.Errorf("hub: %s: %w: got %s, want %s; the download was discarded", d.url, ErrChecksum, got, want)
	}
	return os.Remove(d.part + ".json")
}

// netErr marks transient transfer errors (retried).
type netErr struct{ err error }

func (e netErr) Error() string { return e.err.Error() }
func (e netErr) Unwrap() error { return e.err }

func retryable(err error) bool {
	var ne netErr
	return errors.As(err, &ne)
}

// diskErr explains write failures, disk full in particular.
func diskErr(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("hub: disk full while writing %s: %w; free some space and pull again (the download resumes where it stopped)", path, err)
	}
	return fmt.Errorf("hub: writing %s: %w", path, err)
}
