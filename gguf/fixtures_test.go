package gguf

import (
	"bufio"
	"fmt"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// fixturesDir is the shared fixtures directory; a missing one fails the test.
func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

// fixtureGGUFs lists every GGUF under models/, dsref/gguf/ and tokenizer/.
func fixtureGGUFs(t testing.TB) []string {
	fx := fixturesDir(t)
	var all []string
	for _, sub := range []string{"models", "dsref/gguf", "tokenizer"} {
		m, err := filepath.Glob(filepath.Join(fx, sub, "*.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		if len(m) == 0 {
			t.Fatalf("no GGUF fixtures in %s", sub)
		}
		all = append(all, m...)
	}
	sort.Strings(all)
	return all
}

// mdFile is one "## <file>" section of models/METADATA.md.
type mdFile struct {
	name    string
	size    int64
	keys    []mdKey
	tensors []mdTensor
	summary string // "F16 x32, F32 x17"
}

// mdKey is a line "key = TYPE value" of the keys block.
type mdKey struct {
	key, typ string // typ: "UINT32", "string", "array[STRING]", ...
	value    string // the rest of the line after the type
}

type mdTensor struct {
	name, typ string
	dims      []uint64
}

// parseMetadataMD reads METADATA.md: sections "## file", a "size N bytes" line,
// "### keys" and "### tensors" code blocks and a "tensor types:" summary.
func parseMetadataMD(t *testing.T, path string) map[string]*mdFile {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	files := map[string]*mdFile{}
	var cur *mdFile
	section, inBlock := "", false
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for ln := 1; sc.Scan(); ln++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			cur = &mdFile{name: strings.TrimPrefix(line, "## ")}
			files[cur.name] = cur
			section = ""
		case cur == nil:
		case strings.HasPrefix(line, "### "):
			section = strings.TrimPrefix(line, "### ")
		case line == "```":
			inBlock = !inBlock
		case strings.HasPrefix(line, "size ") && !inBlock:
			f := strings.Fields(line)
			if cur.size, err = strconv.ParseInt(f[1], 10, 64); err != nil {
				t.Fatalf("METADATA.md:%d: %v", ln, err)
			}
		case strings.HasPrefix(line, "tensor types: "):
			cur.summary = strings.TrimPrefix(line, "tensor types: ")
		case inBlock && section == "keys":
			key, rest, ok := strings.Cut(line, " = ")
			typ, val, ok2 := strings.Cut(rest, " ")
			if !ok || !ok2 {
				t.Fatalf("METADATA.md:%d: bad key line %q", ln, line)
			}
			cur.keys = append(cur.keys, mdKey{key: key, typ: typ, value: val})
		case inBlock && section == "tensors":
			f := strings.Fields(line)
			shape := strings.Join(f[2:], "")
			if len(f) < 3 || !strings.HasPrefix(shape, "[") || !strings.HasSuffix(shape, "]") {
				t.Fatalf("METADATA.md:%d: bad tensor line %q", ln, line)
			}
			var dims []uint64
			for _, d := range strings.Split(strings.Trim(shape, "[]"), ",") {
				n, err := strconv.ParseUint(d, 10, 64)
				if err != nil {
					t.Fatalf("METADATA.md:%d: %v", ln, err)
				}
				dims = append(dims, n)
			}
			cur.tensors = append(cur.tensors, mdTensor{name: f[0], typ: f[1], dims: dims})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return files
}

// pyLiterals splits a Python list display "['a', 'b']" or "[1, 2]" into the
// source text of its elements.
func pyLiterals(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("not a list: %q", s)
	}
	s = s[1 : len(s)-1]
	var out []string
	for i := 0; i < len(s); {
		for i < len(s) && (s[i] == ' ' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			break
		}
		j := i
		if q := s[i]; q == '\'' || q == '"' {
			j++
			for j < len(s) && s[j] != q {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j++
		} else {
			for j < len(s) && s[j] != ',' {
				j++
			}
		}
		if j > len(s) {
			return nil, fmt.Errorf("unterminated literal in %q", s)
		}
		out = append(out, s[i:j])
		i = j
	}
	return out, nil
}

// pyString decodes a Python str repr ('...' or "...") with its escapes.
func pyString(lit string) (string, error) {
	if len(lit) < 2 || (lit[0] != '\'' && lit[0] != '"') || lit[len(lit)-1] != lit[0] {
		return "", fmt.Errorf("not a string literal: %q", lit)
	}
	s := lit[1 : len(lit)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("dangling backslash in %q", lit)
		}
		hex := 0
		switch s[i] {
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		case 'x':
			hex = 2
		case 'u':
			hex = 4
		case 'U':
			hex = 8
		default:
			return "", fmt.Errorf("unknown escape \\%c in %q", s[i], lit)
		}
		if hex > 0 {
			if i+1+hex > len(s) {
				return "", fmt.Errorf("short escape in %q", lit)
			}
			r, err := strconv.ParseUint(s[i+1:i+1+hex], 16, 32)
			if err != nil {
				return "", fmt.Errorf("escape in %q: %v", lit, err)
			}
			b.WriteRune(rune(r))
			i += hex
		}
	}
	if !utf8.ValidString(b.String()) {
		return "", fmt.Errorf("invalid UTF-8 in %q", lit)
	}
	return b.String(), nil
}
