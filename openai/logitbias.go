package openai

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
)

// MaxLogitBias bounds the absolute value of a logit_bias entry (OpenAI's
// range is [-100, 100]).
const MaxLogitBias = 100

// MaxLogitBiasEntries bounds the number of logit_bias entries of one
// request (a real vocabulary has 100k-150k tokens; the bound keeps one
// request's decoding memory small).
const MaxLogitBiasEntries = 1 << 16

// LogitBias is OpenAI's logit_bias: a JSON object whose keys are token ids
// (decimal integers without sign or leading zeros, as strings) and whose values are numbers in [-100,
// 100], added to those tokens' logits before sampling. Decoding checks the
// keys and values (the vocabulary bound is the server's to check); errors
// name the field logit_bias.
type LogitBias map[int32]float64

// UnmarshalJSON accepts an object of token id → bias, or null.
func (b *LogitBias) UnmarshalJSON(data []byte) error {
	switch kindOf(data) {
	case "null":
		*b = nil
		return nil
	case "object":
	default:
		return typeError(data, reflect.TypeFor[LogitBias]())
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return typeError(data, reflect.TypeFor[LogitBias]())
	}
	if len(raw) > MaxLogitBiasEntries {
		return &fieldError{"logit_bias", fmt.Sprintf("%d entries, more than the %d allowed", len(raw), MaxLogitBiasEntries)}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same error for the same body
	out := make(LogitBias, len(raw))
	for _, k := range keys {
		id, err := strconv.ParseInt(k, 10, 32)
		if err != nil || id < 0 || strconv.FormatInt(id, 10) != k {
			return &fieldError{"logit_bias", fmt.Sprintf("key %q is not a token id (a non-negative integer)", k)}
		}
		v := raw[k]
		var f float64
		if kindOf(v) != "number" || json.Unmarshal(v, &f) != nil {
			return &fieldError{"logit_bias", fmt.Sprintf("the bias of token %s must be a number between -%d and %d, got %s", k, MaxLogitBias, MaxLogitBias, describe(v))}
		}
		if math.IsNaN(f) || f < -MaxLogitBias || f > MaxLogitBias {
			return &fieldError{"logit_bias", fmt.Sprintf("the bias of token %s must be between -%d and %d, got %g", k, MaxLogitBias, MaxLogitBias, f)}
		}
		if _, dup := out[int32(id)]; dup {
			return &fieldError{"logit_bias", fmt.Sprintf("token %d is given more than once", id)}
		}
		out[int32(id)] = f
	}
	*b = out
	return nil
}

// describe names a raw JSON value for an error message: a number or a short
// value as written, else its kind.
func describe(v json.RawMessage) string {
	if len(v) <= 24 {
		return string(v)
	}
	return "a " + kindOf(v)
}
