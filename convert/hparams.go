package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// hparams is a Hugging Face config.json, decoded with json.Number so that
// integers stay exact.
type hparams map[string]any

func readHparams(dir string) (hparams, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, fmt.Errorf("convert: %w", err)
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var h hparams
	if err := d.Decode(&h); err != nil {
		return nil, fmt.Errorf("convert: config.json: %w", err)
	}
	return h, nil
}

// has reports whether key is present and not null.
func (h hparams) has(key string) bool { v, ok := h[key]; return ok && v != nil }

func (h hparams) num(key string) (json.Number, bool) {
	n, ok := h[key].(json.Number)
	return n, ok
}

// int returns an integer entry.
func (h hparams) int(key string) (int64, bool) {
	n, ok := h.num(key)
	if !ok {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// float returns a numeric entry as float64.
func (h hparams) float(key string) (float64, bool) {
	n, ok := h.num(key)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

func (h hparams) str(key string) (string, bool) {
	s, ok := h[key].(string)
	return s, ok
}

func (h hparams) boolean(key string) (bool, bool) {
	b, ok := h[key].(bool)
	return b, ok
}

func (h hparams) sub(key string) hparams {
	m, _ := h[key].(map[string]any)
	return hparams(m)
}

// mustInt returns a required integer entry.
func (h hparams) mustInt(key string) (int64, error) {
	v, ok := h.int(key)
	if !ok {
		return 0, fmt.Errorf("convert: config.json has no integer %q", key)
	}
	return v, nil
}

// firstInt returns the first present integer of keys (find_hparam).
func (h hparams) firstInt(keys ...string) (int64, bool) {
	for _, k := range keys {
		if v, ok := h.int(k); ok {
			return v, true
		}
	}
	return 0, false
}

// arrayInts returns an integer array entry.
func (h hparams) arrayInts(key string) []int64 {
	a, _ := h[key].([]any)
	var out []int64
	for _, v := range a {
		n, ok := v.(json.Number)
		if !ok {
			return nil
		}
		i, err := n.Int64()
		if err != nil {
			return nil
		}
		out = append(out, i)
	}
	return out
}
