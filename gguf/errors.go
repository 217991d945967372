package gguf

import (
	"errors"
	"fmt"
)

// FormatError reports a malformed GGUF file: the file (Path, empty for Parse),
// the byte offset at which the problem was found, and what was expected.
// Error() reads like
//
//	gguf: model.gguf: at byte 0x1f3a: tensor "blk.3.attn_q_a.weight": data [8000,9000) beyond end of file (size 8500)
type FormatError struct {
	Path   string // file path as passed to Open; "" for Parse
	Offset int64  // byte offset in the file where the problem was found
	Msg    string // what was found and what was expected
}

// Error formats the error as "gguf: PATH: at byte 0xOFF: MSG" (without
// "PATH: " when Path is empty).
func (e *FormatError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("gguf: at byte %#x: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("gguf: %s: at byte %#x: %s", e.Path, e.Offset, e.Msg)
}

// ErrKeyNotFound is returned (wrapped with the key name) by the typed metadata
// getters when the key is absent; test for it with errors.Is.
var ErrKeyNotFound = errors.New("gguf: key not found")

// ErrWrongType is matched (via errors.Is) by a *TypeError, returned by the
// typed metadata getters when a key exists with another value type.
var ErrWrongType = errors.New("gguf: wrong value type")

// TypeError reports a metadata key whose value has a type the getter cannot
// convert: Want describes what the getter accepts, Got the stored type
// (e.g. "array[string]"), and Detail an optional range problem.
type TypeError struct {
	Key    string
	Want   string
	Got    string
	Detail string // e.g. "value -1 is negative"; "" for a plain type mismatch
}

// Error names the key, the stored type and what was wanted.
func (e *TypeError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("gguf: key %q (%s): %s, want %s", e.Key, e.Got, e.Detail, e.Want)
	}
	return fmt.Sprintf("gguf: key %q has type %s, want %s", e.Key, e.Got, e.Want)
}

// Is makes errors.Is(err, ErrWrongType) true for a *TypeError.
func (e *TypeError) Is(target error) bool { return target == ErrWrongType }

// withContext prefixes the message of a *FormatError with more context
// ("kv 3 \"general.name\": ..."), keeping its offset. Other errors are wrapped.
func withContext(err error, format string, args ...any) error {
	ctx := fmt.Sprintf(format, args...)
	var fe *FormatError
	if errors.As(err, &fe) {
		return &FormatError{Path: fe.Path, Offset: fe.Offset, Msg: ctx + ": " + fe.Msg}
	}
	return fmt.Errorf("%s: %w", ctx, err)
}
