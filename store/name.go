package store

import (
	"fmt"
	"path"
	"strings"
)

// Name is a parsed model name. Two forms exist:
//
//	hf.co/ORG/REPO[:TAG]   a Hugging Face repository; TAG is a quantization
//	                       ("Q4_K_M") or a file name; empty = the default
//	FAMILY[:TAG]           a short alias such as deepseek-r1:1.5b, resolved
//	                       by the puller to a repository
//
// "huggingface.co/" and "https://huggingface.co/" prefixes are accepted and
// normalised to "hf.co/".
type Name struct {
	Host string // "hf.co" for repository names, "" for aliases
	Repo string // ORG/REPO for repository names, FAMILY for aliases
	Tag  string // as given (quantization tags upper-cased); "" = default
}

// String is the canonical spelling: "hf.co/ORG/REPO:TAG" or "FAMILY:TAG"
// (without ":" when Tag is empty).
func (n Name) String() string {
	s := n.Repo
	if n.Host != "" {
		s = n.Host + "/" + n.Repo
	}
	if n.Tag != "" {
		s += ":" + n.Tag
	}
	return s
}

// IsRepo reports whether the name names a Hugging Face repository.
func (n Name) IsRepo() bool { return n.Host != "" }

// ParseName parses and validates a model name. Path components may hold
// letters, digits, '.', '_' and '-' (no "..", no leading '.'); a tag may
// also not contain '/'. Tags that look like quantization names are
// upper-cased ("q4_k_m" -> "Q4_K_M"). Errors: empty name, bad characters,
// an hf.co name without exactly ORG/REPO.
func ParseName(s string) (Name, error) {
	orig := s
	for _, p := range []string{"https://", "http://"} {
		s = strings.TrimPrefix(s, p)
	}
	var n Name
	for _, host := range []string{"hf.co/", "huggingface.co/"} {
		if rest, ok := strings.CutPrefix(s, host); ok {
			n.Host, s = "hf.co", rest
			break
		}
	}
	repo, tag, _ := strings.Cut(s, ":")
	n.Repo, n.Tag = repo, normalizeTag(tag)
	parts := strings.Split(repo, "/")
	switch {
	case repo == "":
		return Name{}, fmt.Errorf("store: empty model name %q", orig)
	case n.IsRepo() && len(parts) != 2:
		return Name{}, fmt.Errorf("store: %q: want hf.co/ORG/REPO[:QUANT]", orig)
	case !n.IsRepo() && len(parts) != 1:
		return Name{}, fmt.Errorf("store: %q is neither a known alias form (FAMILY[:TAG]) nor hf.co/ORG/REPO[:QUANT]", orig)
	}
	for _, p := range append(parts, n.Tag) {
		if p == "" && p == n.Tag {
			continue
		}
		if !validComponent(p) {
			return Name{}, fmt.Errorf("store: %q: invalid component %q (letters, digits, '.', '_' and '-' only)", orig, p)
		}
	}
	return n, nil
}

func validComponent(p string) bool {
	if p == "" || p[0] == '.' || len(p) > 200 {
		return false
	}
	for _, c := range p {
		ok := c == '.' || c == '_' || c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return false
		}
	}
	return true
}

// normalizeTag upper-cases quantization-like tags ("q4_k_m", "bf16").
func normalizeTag(t string) string {
	if IsQuantName(t) {
		return strings.ToUpper(t)
	}
	return t
}

// IsQuantName reports whether s looks like a GGUF quantization name as
// repositories spell them in file names: Q4_K_M, IQ4_XS, Q8_0, TQ1_0,
// Q2_K_XL, F16, BF16, F32 (case-insensitive).
func IsQuantName(s string) bool {
	u := strings.ToUpper(s)
	switch u {
	case "F16", "BF16", "F32", "FP16":
		return true
	}
	rest := u
	switch {
	case strings.HasPrefix(u, "IQ"), strings.HasPrefix(u, "TQ"):
		rest = u[2:]
	case strings.HasPrefix(u, "Q"):
		rest = u[1:]
	default:
		return false
	}
	if rest == "" || rest[0] < '1' || rest[0] > '8' {
		return false
	}
	for _, c := range rest[1:] {
		if !(c == '_' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
			return false
		}
	}
	return len(rest) == 1 || rest[1] == '_'
}

// manifestRel is the manifest's path relative to the manifests directory.
func (n Name) manifestRel() string {
	tag := n.Tag
	if tag == "" {
		tag = "latest"
	}
	if n.IsRepo() {
		return path.Join(n.Host, n.Repo, tag+".json")
	}
	return path.Join("library", n.Repo, tag+".json")
}
