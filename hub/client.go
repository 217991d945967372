// Package hub fetches GGUF models from the Hugging Face hub into dseek's
// local store: repository listing through the hub API, choice of the
// requested quantization (all parts of a split GGUF), resumable, parallel,
// sha256-verified downloads, and short aliases for the common DeepSeek GGUF
// repositories.
//
// Hub protocol used (as huggingface_hub does it):
//
//	GET {endpoint}/api/models/{repo}/revision/{rev}        -> {"sha": commit}
//	GET {endpoint}/api/models/{repo}/tree/{rev}?recursive=1 -> [{type, path, size, oid, lfs: {oid, size}}]
//	    (paginated with a Link: <...>; rel="next" header)
//	GET {endpoint}/{repo}/resolve/{rev}/{path}              -> 302 to the CDN
//	    (X-Linked-Etag / X-Linked-Size name the LFS object), Range requests
//
// HF_TOKEN (or HUGGING_FACE_HUB_TOKEN) is sent as a bearer token to the hub
// (not to the CDN the hub redirects to); HF_ENDPOINT overrides the endpoint.
package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// DefaultEndpoint is the Hugging Face hub.
const DefaultEndpoint = "https://huggingface.co"

// Client talks to a Hugging Face hub.
type Client struct {
	Endpoint string       // without trailing slash
	Token    string       // bearer token; "" = anonymous
	HTTP     *http.Client // nil = a client with sane timeouts
}

// NewClient returns a client configured from the environment: HF_ENDPOINT
// (default DefaultEndpoint) and HF_TOKEN / HUGGING_FACE_HUB_TOKEN.
func NewClient() *Client {
	c := &Client{Endpoint: DefaultEndpoint}
	if e := os.Getenv("HF_ENDPOINT"); e != "" {
		c.Endpoint = strings.TrimRight(e, "/")
	}
	c.Token = os.Getenv("HF_TOKEN")
	if c.Token == "" {
		c.Token = os.Getenv("HUGGING_FACE_HUB_TOKEN")
	}
	return c
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		ResponseHeaderTimeout: 60 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}}
}

// newRequest builds a GET request; the token goes only to the hub's host
// (Go drops Authorization on redirects to another host).
func (c *Client) newRequest(ctx context.Context, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "dseek")
	if c.Token != "" && strings.HasPrefix(u, c.Endpoint) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// StatusError is an HTTP error from the hub with an explanation.
type StatusError struct {
	Code int
	URL  string
	Msg  string
}

func (e *StatusError) Error() string { return e.Msg }

// statusError explains a non-2xx response for repository repo.
func statusError(resp *http.Response, repo, token string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	u := resp.Request.URL.String()
	var msg string
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if token == "" {
			msg = fmt.Sprintf("%s: authentication required (HTTP 401): the repository is gated or private; set HF_TOKEN to a Hugging Face access token", repo)
		} else {
			msg = fmt.Sprintf("%s: HTTP 401 with the token from HF_TOKEN: the token is invalid or expired, or the repository does not exist", repo)
		}
	case http.StatusForbidden:
		msg = fmt.Sprintf("%s: access denied (HTTP 403): the repository is gated; accept its terms on the Hugging Face website with the account of your HF_TOKEN", repo)
	case http.StatusNotFound:
		msg = fmt.Sprintf("%s: not found (HTTP 404): check the repository name and revision (a private repository also needs HF_TOKEN)", repo)
	default:
		msg = fmt.Sprintf("%s: HTTP %d from %s: %s", repo, resp.StatusCode, u, strings.TrimSpace(string(body)))
	}
	return &StatusError{Code: resp.StatusCode, URL: u, Msg: msg}
}

// getJSON fetches u and decodes it into v, returning the response headers.
func (c *Client) getJSON(ctx context.Context, u, repo string, v any) (http.Header, error) {
	req, err := c.newRequest(ctx, u)
	if err != nil {
		return nil, err
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return nil, fmt.Errorf("hub: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp, repo, c.Token)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(v); err != nil {
		return nil, fmt.Errorf("hub: %s: bad JSON from %s: %w", repo, u, err)
	}
	return resp.Header, nil
}

// Revision returns the commit sha that rev (a branch, tag or sha) of repo
// points to. Errors: *StatusError for 401/403/404, network errors.
func (c *Client) Revision(ctx context.Context, repo, rev string) (string, error) {
	var r struct {
		SHA string `json:"sha"`
	}
	u := fmt.Sprintf("%s/api/models/%s/revision/%s", c.Endpoint, repo, url.PathEscape(rev))
	if _, err := c.getJSON(ctx, u, repo, &r); err != nil {
		return "", err
	}
	if r.SHA == "" {
		return "", fmt.Errorf("hub: %s: revision %s has no commit sha", repo, rev)
	}
	return r.SHA, nil
}

// Entry is one file of a repository tree.
type Entry struct {
	Path   string // slash-separated path in the repository
	Size   int64
	SHA256 string // LFS object id (sha256) for LFS files; "" otherwise
	OID    string // git blob id
}

type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	Size int64  `json:"size"`
	OID  string `json:"oid"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

var linkNext = regexp.MustCompile(`<([^>]+)>;\s*rel="next"`)

// Tree lists every file of repo at rev (recursively, following pagination).
// Errors: *StatusError for 401/403/404, network errors, bad JSON.
func (c *Client) Tree(ctx context.Context, repo, rev string) ([]Entry, error) {
	u := fmt.Sprintf("%s/api/models/%s/tree/%s?recursive=1", c.Endpoint, repo, url.PathEscape(rev))
	var out []Entry
	for page := 0; u != "" && page < 1000; page++ {
		var ents []treeEntry
		h, err := c.getJSON(ctx, u, repo, &ents)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Type != "file" {
				continue
			}
			en := Entry{Path: e.Path, Size: e.Size, OID: e.OID}
			if e.LFS != nil {
				en.SHA256, en.Size = e.LFS.OID, e.LFS.Size
			}
			out = append(out, en)
		}
		u = ""
		if m := linkNext.FindStringSubmatch(h.Get("Link")); m != nil {
			u = m[1]
		}
	}
	return out, nil
}

// ResolveURL is the download URL of path in repo at rev.
func (c *Client) ResolveURL(repo, rev, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return fmt.Sprintf("%s/%s/resolve/%s/%s", c.Endpoint, repo, url.PathEscape(rev), strings.Join(segs, "/"))
}

// isStatus reports whether err is a *StatusError with one of the codes.
func isStatus(err error, codes ...int) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code == c {
			return true
		}
	}
	return false
}
