package hub

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRepo is a repository of the fake hub.
type fakeRepo struct {
	commit string
	files  map[string][]byte
	gated  bool // needs "Bearer good-token"
}

// fakeHub behaves like the Hugging Face hub for the calls dseek makes: the
// revision and paginated tree APIs, resolve URLs that redirect (302) to a
// separate CDN handler with X-Linked-Etag/X-Linked-Size/X-Repo-Commit,
// ranged downloads (206 + Content-Range), ETags, 401/404 — plus fault
// injection: cut a response after some bytes, serve corrupted bytes.
type fakeHub struct {
	t      *testing.T
	srv    *httptest.Server // the hub (API and resolve)
	cdnSrv *httptest.Server // the CDN, another host like cdn-lfs.hf.co
	repos  map[string]*fakeRepo
	blobs  map[string][]byte // sha256 -> content

	mu       sync.Mutex
	cutAfter map[string][]int64 // sha -> per-request byte limits (consumed in order)
	corrupt  map[string]bool
	ranges   []string // Range headers seen by the CDN
	served   int64    // body bytes the CDN sent
	cdnAuth  int      // CDN requests that carried an Authorization header
	pageSize int
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repos: map[string]*fakeRepo{}, blobs: map[string][]byte{},
		cutAfter: map[string][]int64{}, corrupt: map[string]bool{}, pageSize: 2}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/models/", h.api)
	mux.HandleFunc("/", h.resolve)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	// The CDN listens on "localhost" while the hub is reached as
	// 127.0.0.1: a different host, as for the real hub and its CDN.
	h.cdnSrv = httptest.NewServer(http.HandlerFunc(h.cdn))
	t.Cleanup(h.cdnSrv.Close)
	return h
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func (h *fakeHub) addRepo(name string, gated bool, files map[string][]byte) {
	h.repos[name] = &fakeRepo{commit: sum([]byte(name))[:40], files: files, gated: gated}
	for _, b := range files {
		h.blobs[sum(b)] = b
	}
}

func (h *fakeHub) client(token string) *Client {
	return &Client{Endpoint: h.srv.URL, Token: token, HTTP: h.srv.Client()}
}

// authorize answers 401 for gated repos without the right token.
func (h *fakeHub) authorize(w http.ResponseWriter, r *http.Request, repo *fakeRepo) bool {
	if repo.gated && r.Header.Get("Authorization") != "Bearer good-token" {
		http.Error(w, `{"error":"Access to model is restricted"}`, http.StatusUnauthorized)
		return false
	}
	return true
}

// splitRepoPath splits "org/repo/<kind>/<rev>/<rest>".
func splitRepoPath(p string) (repo, kind, rev, rest string, ok bool) {
	parts := strings.SplitN(p, "/", 5)
	if len(parts) < 4 {
		return "", "", "", "", false
	}
	if len(parts) == 5 {
		rest = parts[4]
	}
	return parts[0] + "/" + parts[1], parts[2], parts[3], rest, true
}

func (h *fakeHub) api(w http.ResponseWriter, r *http.Request) {
	name, kind, rev, _, ok := splitRepoPath(strings.TrimPrefix(r.URL.Path, "/api/models/"))
	repo := h.repos[name]
	if !ok || repo == nil {
		http.Error(w, `{"error":"Repository not found"}`, http.StatusNotFound)
		return
	}
	if !h.authorize(w, r, repo) {
		return
	}
	if rev != "main" && rev != repo.commit {
		http.Error(w, `{"error":"Revision not found"}`, http.StatusNotFound)
		return
	}
	switch kind {
	case "revision":
		json.NewEncoder(w).Encode(map[string]any{"id": name, "sha": repo.commit})
	case "tree":
		if r.URL.Query().Get("recursive") != "1" {
			h.t.Errorf("tree request without recursive=1: %s", r.URL)
		}
		h.tree(w, r, repo)
	default:
		http.NotFound(w, r)
	}
}

func (h *fakeHub) tree(w http.ResponseWriter, r *http.Request, repo *fakeRepo) {
	var paths []string
	for p := range repo.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := min(start+h.pageSize, len(paths))
	var out []map[string]any
	for _, p := range paths[start:end] {
		b := repo.files[p]
		e := map[string]any{"type": "file", "path": p, "size": len(b), "oid": sum(b)[:40]}
		if strings.HasSuffix(p, ".gguf") {
			e["lfs"] = map[string]any{"oid": sum(b), "size": len(b), "pointerSize": 134}
			e["size"] = len(b)
		}
		out = append(out, e)
	}
	if end < len(paths) {
		next := fmt.Sprintf("%s%s?recursive=1&cursor=%d", h.srv.URL, r.URL.Path, end)
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next))
	}
	json.NewEncoder(w).Encode(out)
}

// resolve redirects /{org}/{repo}/resolve/{rev}/{path} to the CDN.
func (h *fakeHub) resolve(w http.ResponseWriter, r *http.Request) {
	name, kind, rev, p, ok := splitRepoPath(strings.TrimPrefix(r.URL.Path, "/"))
	repo := h.repos[name]
	if !ok || kind != "resolve" || repo == nil {
		http.Error(w, "Repository not found", http.StatusNotFound)
		return
	}
	if !h.authorize(w, r, repo) {
		return
	}
	b, found := repo.files[p]
	if !found || (rev != "main" && rev != repo.commit) {
		http.Error(w, "Entry not found", http.StatusNotFound)
		return
	}
	s := sum(b)
	w.Header().Set("X-Linked-Etag", `"`+s+`"`)
	w.Header().Set("X-Linked-Size", strconv.Itoa(len(b)))
	w.Header().Set("X-Repo-Commit", repo.commit)
	w.Header().Set("ETag", `"`+s[:40]+`"`)
	cdn := strings.Replace(h.cdnSrv.URL, "127.0.0.1", "localhost", 1)
	http.Redirect(w, r, cdn+"/cdn/"+s+"?X-Amz-Signature=abc", http.StatusFound)
}

// cdn serves blobs with Range support and the injected faults.
func (h *fakeHub) cdn(w http.ResponseWriter, r *http.Request) {
	s := strings.TrimPrefix(r.URL.Path, "/cdn/")
	b, ok := h.blobs[s]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.mu.Lock()
	if r.Header.Get("Authorization") != "" {
		h.cdnAuth++
	}
	h.ranges = append(h.ranges, r.Header.Get("Range"))
	limit := int64(-1)
	if l := h.cutAfter[s]; len(l) > 0 {
		limit, h.cutAfter[s] = l[0], l[1:]
	}
	if h.corrupt[s] {
		b = append([]byte(nil), b...)
		b[len(b)/2] ^= 0xFF
	}
	h.mu.Unlock()
	from, to := int64(0), int64(len(b))-1
	w.Header().Set("ETag", `"`+s+`"`)
	w.Header().Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" {
		if _, err := fmt.Sscanf(rg, "bytes=%d-%d", &from, &to); err != nil || from > to || to >= int64(len(b)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(b)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, to, len(b)))
	}
	w.Header().Set("Content-Length", strconv.FormatInt(to-from+1, 10))
	w.WriteHeader(status)
	body := b[from : to+1]
	if limit >= 0 && limit < int64(len(body)) {
		w.Write(body[:limit])
		h.count(limit)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // cut the connection mid-body
	}
	w.Write(body)
	h.count(int64(len(body)))
}

func (h *fakeHub) count(n int64) {
	h.mu.Lock()
	h.served += n
	h.mu.Unlock()
}

func (h *fakeHub) stats() (ranges []string, served int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ranges...), h.served
}
