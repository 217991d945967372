package gguf

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Metadata keys of llama.cpp's split models (LLM_KV_SPLIT_* in llama-arch.cpp,
// written by gguf-split as uint16, uint16 and int32).
const (
	KeySplitNo           = "split.no"            // 0-based index of this part
	KeySplitCount        = "split.count"         // number of parts
	KeySplitTensorsCount = "split.tensors.count" // tensors over all parts
)

// SplitPath returns the file name of part index (0-based) of a model split
// into count parts, as llama.cpp's llama_split_path: "%s-%05d-of-%05d.gguf"
// with index+1, e.g. SplitPath("m", 0, 3) = "m-00001-of-00003.gguf".
func SplitPath(prefix string, index, count int) string {
	return fmt.Sprintf("%s-%05d-of-%05d.gguf", prefix, index+1, count)
}

// ParseSplitPath is the inverse of SplitPath: for "m-00002-of-00003.gguf" it
// returns prefix "m", index 1 (0-based), count 3 and ok. ok is false for a
// name not of that form (at least 5 digits each, 1 <= part <= count).
func ParseSplitPath(path string) (prefix string, index, count int, ok bool) {
	s, found := strings.CutSuffix(path, ".gguf")
	if !found {
		return "", 0, 0, false
	}
	i := strings.LastIndex(s, "-of-")
	if i < 0 {
		return "", 0, 0, false
	}
	count, ok = parseSplitNumber(s[i+len("-of-"):])
	if !ok {
		return "", 0, 0, false
	}
	j := strings.LastIndex(s[:i], "-")
	if j < 0 {
		return "", 0, 0, false
	}
	no, ok := parseSplitNumber(s[j+1 : i])
	if !ok || no > count {
		return "", 0, 0, false
	}
	return s[:j], no - 1, count, true
}

// parseSplitNumber parses a positive decimal of at least 5 digits.
func parseSplitNumber(s string) (int, bool) {
	if len(s) < 5 {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil || n < 1 {
		return 0, false
	}
	return int(n), true
}

// splitKeys returns split.no and split.count of one part; count is 0 when the
// file carries no split.count (an ordinary single file).
func splitKeys(kvs []KV, path string) (no, count int, err error) {
	get := func(key string) (int, bool, error) {
		for _, kv := range kvs {
			if kv.Key != key {
				continue
			}
			u, ok := asUint(kv.Value)
			if !ok || u > math.MaxInt32 {
				return 0, true, fmt.Errorf("gguf: %s: %s is %v (%s), want a non-negative integer", path, key, kv.Value, kv.TypeName())
			}
			return int(u), true, nil
		}
		return 0, false, nil
	}
	count, _, err = get(KeySplitCount)
	if err != nil {
		return 0, 0, err
	}
	no, hasNo, err := get(KeySplitNo)
	if err != nil {
		return 0, 0, err
	}
	if hasNo && no >= count && count > 0 {
		return 0, 0, fmt.Errorf("gguf: %s: %s = %d but %s = %d", path, KeySplitNo, no, KeySplitCount, count)
	}
	return no, count, nil
}

// openModel opens path and, for a split model, every other part.
func openModel(path string, opt Options) (*File, error) {
	p, hdr, err := openPart(path, opt)
	if err != nil {
		return nil, partError(err, "")
	}
	no, count, err := splitKeys(hdr.kvs, path)
	if err != nil {
		p.closer.Close()
		return nil, err
	}
	if count <= 1 {
		f, err := assemble(path, hdr, []*part{p}, [][]TensorInfo{hdr.tensors})
		if err != nil {
			p.closer.Close()
			return nil, err
		}
		return f, nil
	}
	prefix, idx, cnt, named := ParseSplitPath(path)
	if !named || idx != no || cnt != count {
		p.closer.Close()
		return nil, fmt.Errorf("gguf: %s is split part %d of %d (keys %s/%s), but its name does not follow %q, so the other parts cannot be located; rename the parts as gguf-split names them",
			path, no+1, count, KeySplitNo, KeySplitCount, SplitPath("<prefix>", no, count))
	}
	if no != 0 {
		// Not the first part: reopen starting from part 1.
		p.closer.Close()
		first := SplitPath(prefix, 0, count)
		p, hdr, err = openPart(first, opt)
		if err != nil {
			return nil, partError(err, fmt.Sprintf("%s is split part %d of %d; opening part 1", path, no+1, count))
		}
		path = first
		if err := checkSplitPart(hdr, path, 0, count); err != nil {
			p.closer.Close()
			return nil, err
		}
	}
	parts := []*part{p}
	tensors := [][]TensorInfo{hdr.tensors}
	closeAll := func() {
		for _, q := range parts {
			q.closer.Close()
		}
	}
	for i := 1; i < count; i++ {
		pi := SplitPath(prefix, i, count)
		q, h, err := openPart(pi, opt)
		if err != nil {
			closeAll()
			return nil, partError(err, fmt.Sprintf("split part %d of %d of %s", i+1, count, path))
		}
		parts, tensors = append(parts, q), append(tensors, h.tensors)
		if err := checkSplitPart(h, pi, i, count); err != nil {
			closeAll()
			return nil, err
		}
	}
	f, err := assemble(path, hdr, parts, tensors)
	if err != nil {
		closeAll()
		return nil, err
	}
	if kv, ok := f.Lookup(KeySplitTensorsCount); ok {
		if n, ok := asUint(kv.Value); !ok || n != uint64(len(f.Tensors)) {
			f.Close()
			return nil, fmt.Errorf("gguf: %s: %s = %v but the %d parts hold %d tensors", path, KeySplitTensorsCount, kv.Value, count, len(f.Tensors))
		}
	}
	return f, nil
}

// checkSplitPart verifies that a part's split keys match its position.
func checkSplitPart(h *header, path string, index, count int) error {
	no, cnt, err := splitKeys(h.kvs, path)
	if err != nil {
		return err
	}
	if no != index || cnt != count {
		return fmt.Errorf("gguf: %s: expected split part %d of %d, its keys say part %d of %d (%s=%d, %s=%d)",
			path, index+1, count, no+1, cnt, KeySplitNo, no, KeySplitCount, cnt)
	}
	return nil
}

// assemble builds the File from part 1's header and every part's tensors.
// On error the caller still owns (and closes) the parts.
func assemble(path string, hdr *header, parts []*part, tensors [][]TensorInfo) (*File, error) {
	f := &File{Path: path, Version: hdr.version, Alignment: hdr.alignment, KVs: hdr.kvs, parts: parts}
	for i, ts := range tensors {
		if err := f.addTensors(ts, i); err != nil {
			return nil, err
		}
	}
	f.indexKVs()
	return f, nil
}
