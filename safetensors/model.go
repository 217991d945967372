package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of a sharded checkpoint's weight map.
const IndexFile = "model.safetensors.index.json"

// Model is every safetensors file of a checkpoint directory seen as one set
// of tensors.
type Model struct {
	Dir   string
	Files []*File // in file-name order
	by    map[string]*Tensor
}

// OpenDir opens the checkpoint in dir: the shards listed by
// model.safetensors.index.json when it exists (every file named in its
// weight_map must exist and hold exactly the tensors the map assigns to
// it), otherwise every model*.safetensors file in the directory (as
// llama.cpp's converter finds them). Errors: no safetensors file, a missing
// shard, a tensor present in two files, a weight map that disagrees with
// the files.
func OpenDir(dir string) (*Model, error) {
	names, weightMap, err := shardNames(dir)
	if err != nil {
		return nil, err
	}
	m := &Model{Dir: dir, by: map[string]*Tensor{}}
	for _, n := range names {
		f, err := Open(filepath.Join(dir, n))
		if err != nil {
			m.Close()
			return nil, err
		}
		m.Files = append(m.Files, f)
		for _, t := range f.Tensors {
			if prev, dup := m.by[t.Name]; dup {
				m.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", t.Name, prev.File.Path, f.Path)
			}
			m.by[t.Name] = t
		}
	}
	if err := m.checkWeightMap(weightMap); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// shardNames lists the files to open and the index's weight map (nil
// without an index).
func shardNames(dir string) ([]string, map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, nil, fmt.Errorf("safetensors: %s: %w", IndexFile, err)
		}
		if len(idx.WeightMap) == 0 {
			return nil, nil, fmt.Errorf("safetensors: %s has no weight_map", IndexFile)
		}
		seen := map[string]bool{}
		var names []string
		for _, f := range idx.WeightMap {
			if !seen[f] {
				if strings.ContainsAny(f, `/\`) {
					return nil, nil, fmt.Errorf("safetensors: %s names a file outside the directory: %q", IndexFile, f)
				}
				seen[f] = true
				names = append(names, f)
			}
		}
		sort.Strings(names)
		return names, idx.WeightMap, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, "model") && strings.HasSuffix(n, ".safetensors") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("safetensors: no model*.safetensors file in %s", dir)
	}
	sort.Strings(names)
	return names, nil, nil
}

func (m *Model) checkWeightMap(wm map[string]string) error {
	if wm == nil {
		return nil
	}
	for name, file := range wm {
		t, ok := m.by[name]
		if !ok {
			return fmt.Errorf("safetensors: %s lists %q in %s, but that file does not hold it (incomplete download?)", IndexFile, name, file)
		}
		if filepath.Base(t.File.Path) != file {
			return fmt.Errorf("safetensors: %s puts %q in %s, found in %s", IndexFile, name, file, t.File.Path)
		}
	}
	for name, t := range m.by {
		if _, ok := wm[name]; !ok {
			return fmt.Errorf("safetensors: %s holds %q, which %s does not list", t.File.Path, name, IndexFile)
		}
	}
	return nil
}

// Tensor returns the named tensor and whether it exists.
func (m *Model) Tensor(name string) (*Tensor, bool) {
	t, ok := m.by[name]
	return t, ok
}

// Names returns every tensor name in llama.cpp's converter order: file by
// file (file-name order), each file's tensors sorted by name.
func (m *Model) Names() []string {
	var out []string
	for _, f := range m.Files {
		for _, t := range f.Tensors {
			out = append(out, t.Name)
		}
	}
	return out
}

// Close closes every file.
func (m *Model) Close() error {
	var first error
	for _, f := range m.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
