package chat

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/dseek-ai/dseek/internal/fixtures"
	"io"
	"os"
	"testing"
)

// fixturesDir is the shared fixtures directory; a missing one fails the test.
func fixturesDir(t testing.TB) string { return fixtures.MustDir(t) }

// readJSON decodes a JSON file into v, failing the test on error.
func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ggufString returns the string value of metadata key in a GGUF file (v2/v3
// layout: magic, version u32, n_tensors u64, n_kv u64, then key/type/value
// records). It is a minimal reader for tests; the project's gguf package is
// the real one.
func ggufString(t testing.TB, path, key string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := findGGUFString(f, key)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func findGGUFString(r io.Reader, key string) (string, error) {
	var hdr struct {
		Magic   [4]byte
		Version uint32
		NTensor uint64
		NKV     uint64
	}
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return "", err
	}
	if string(hdr.Magic[:]) != "GGUF" || hdr.Version < 2 {
		return "", errors.New("not a GGUF v2+ file")
	}
	u32 := func() uint32 { var v uint32; _ = binary.Read(r, binary.LittleEndian, &v); return v }
	u64 := func() uint64 { var v uint64; _ = binary.Read(r, binary.LittleEndian, &v); return v }
	str := func() (string, error) {
		n := u64()
		if n > 1<<24 {
			return "", fmt.Errorf("string length %d", n)
		}
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return string(b), err
	}
	sizes := map[uint32]int64{0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
	var skip func(typ uint32) error
	skip = func(typ uint32) error {
		if n, ok := sizes[typ]; ok {
			_, err := io.CopyN(io.Discard, r, n)
			return err
		}
		switch typ {
		case 8:
			_, err := str()
			return err
		case 9:
			et, n := u32(), u64()
			for range n {
				if err := skip(et); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("unknown GGUF type %d", typ)
	}
	for range hdr.NKV {
		k, err := str()
		if err != nil {
			return "", err
		}
		typ := u32()
		if k == key {
			if typ != 8 {
				return "", fmt.Errorf("key %s has type %d, not string", key, typ)
			}
			return str()
		}
		if err := skip(typ); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("key %s not found", key)
}
