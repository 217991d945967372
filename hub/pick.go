package hub

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/dseek-ai/dseek/gguf"
	"github.com/dseek-ai/dseek/store"
)

// DefaultQuant is the quantization pulled when the name has no tag.
const DefaultQuant = "Q4_K_M"

// quantOf returns the quantization token of a GGUF file name (the last
// '-' or '.' separated part that looks like one, split suffix removed), or "".
func quantOf(p string) string {
	base := strings.TrimSuffix(path.Base(p), ".gguf")
	if prefix, _, _, ok := gguf.ParseSplitPath(path.Base(p)); ok {
		base = prefix
	}
	parts := strings.FieldsFunc(base, func(r rune) bool { return r == '-' || r == '.' })
	for i := len(parts) - 1; i >= 0; i-- {
		if store.IsQuantName(parts[i]) {
			return strings.ToUpper(parts[i])
		}
	}
	return ""
}

// isModelGGUF: a .gguf file that is not a vision projector or an imatrix.
func isModelGGUF(p string) bool {
	l := strings.ToLower(path.Base(p))
	return strings.HasSuffix(l, ".gguf") && !strings.Contains(l, "mmproj") && !strings.Contains(l, "imatrix")
}

// group is one model in a repository: a single GGUF or all parts of a split.
type group struct {
	key   string  // directory + split prefix, or the file path
	quant string  // quantization token
	files []Entry // parts in order
	count int     // parts expected (1 for a single file)
}

func groups(tree []Entry) []*group {
	by := map[string]*group{}
	var order []string
	for _, e := range tree {
		if !isModelGGUF(e.Path) {
			continue
		}
		key, count := e.Path, 1
		if prefix, _, n, ok := gguf.ParseSplitPath(path.Base(e.Path)); ok {
			key, count = path.Join(path.Dir(e.Path), prefix), n
		}
		g := by[key]
		if g == nil {
			g = &group{key: key, quant: quantOf(e.Path), count: count}
			by[key] = g
			order = append(order, key)
		}
		g.files = append(g.files, e)
	}
	var out []*group
	for _, k := range order {
		g := by[k]
		sort.Slice(g.files, func(i, j int) bool { return g.files[i].Path < g.files[j].Path })
		out = append(out, g)
	}
	return out
}

// Pick chooses the files of the requested tag in a repository tree: tag is
// a quantization ("Q4_K_M"; "" = DefaultQuant, or the only GGUF of the
// repository) or a GGUF path of the repository. For a split GGUF every part
// is returned, part 1 first. Errors: no GGUF at all, the quantization is
// absent (the message lists those present), several different files match,
// an incomplete split set.
func Pick(repo string, tree []Entry, tag string) ([]Entry, string, error) {
	gs := groups(tree)
	if len(gs) == 0 {
		return nil, "", fmt.Errorf("hub: %s has no GGUF files (dseek convert turns safetensors checkpoints into GGUF)", repo)
	}
	var match []*group
	switch {
	case strings.HasSuffix(strings.ToLower(tag), ".gguf"):
		for _, g := range gs {
			for _, f := range g.files {
				if f.Path == tag || path.Base(f.Path) == tag {
					match = append(match, g)
				}
			}
		}
	case tag == "" && len(gs) == 1:
		match = gs
	default:
		q := strings.ToUpper(tag)
		if q == "" {
			q = DefaultQuant
		}
		for _, g := range gs {
			if g.quant == q {
				match = append(match, g)
			}
		}
	}
	if len(match) == 0 {
		want := tag
		if want == "" {
			want = DefaultQuant
		}
		return nil, "", fmt.Errorf("hub: %s has no %s GGUF; available: %s", repo, want, strings.Join(available(gs), ", "))
	}
	if len(match) > 1 {
		var names []string
		for _, g := range match {
			names = append(names, g.files[0].Path)
		}
		return nil, "", fmt.Errorf("hub: %s: %q matches several models: %s; name one file as the tag (hf.co/%s:FILE.gguf)", repo, tag, strings.Join(names, ", "), repo)
	}
	g := match[0]
	if len(g.files) != g.count {
		return nil, "", fmt.Errorf("hub: %s: split model %s has %d of its %d parts", repo, g.key, len(g.files), g.count)
	}
	quant := g.quant
	return g.files, quant, nil
}

// available lists the quantizations (or file names) present.
func available(gs []*group) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range gs {
		n := g.quant
		if n == "" {
			n = path.Base(g.files[0].Path)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
