// Package openai holds the wire types of the HTTP APIs dseek serves —
// OpenAI and DeepSeek chat completions and completions, the models list, and
// Anthropic Messages — with parsing and validation that name the offending
// field. It is a pure translation layer: standard library only, no HTTP
// (the server package reads bodies and writes responses).
//
// Sources: the OpenAI API reference (chat/completions, completions,
// models), DeepSeek's API docs (reasoning_content, thinking, prefix
// completion, FIM at /beta/completions, prompt_cache_hit_tokens), and
// Anthropic's Messages API reference (content blocks, streaming events).
package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Error types, as the OpenAI API reports them in error.type.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypeNotFound       = "not_found_error"
	TypeRateLimit      = "rate_limit_error"
	TypeServer         = "server_error"
	TypeOverloaded     = "overloaded_error"
)

// Error is an API error: an HTTP status and the OpenAI error object
// {"error": {"message", "type", "param", "code"}}. Param names the
// offending request field in dotted form with indices, e.g.
// "messages[2].content".
type Error struct {
	Status  int    `json:"-"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Param   string `json:"param"`
	Code    string `json:"code"`
}

// Error returns "param: message" (or the message alone).
func (e *Error) Error() string {
	if e.Param != "" && !strings.HasPrefix(e.Message, e.Param) {
		return e.Param + ": " + e.Message
	}
	return e.Message
}

// Invalid returns a 400 invalid_request_error for param whose message
// starts with the param name.
func Invalid(param, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if param != "" {
		msg = param + ": " + msg
	}
	return &Error{Status: 400, Message: msg, Type: TypeInvalidRequest, Param: param, Code: "invalid_value"}
}

// ErrorBody is the JSON body of an OpenAI error response.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// AnthropicErrorBody is the JSON body of an Anthropic error response:
// {"type": "error", "error": {"type", "message"}}.
type AnthropicErrorBody struct {
	Type  string         `json:"type"`
	Error AnthropicError `json:"error"`
}

// AnthropicError is the error object of an Anthropic error response.
type AnthropicError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Anthropic converts e to Anthropic's error body. Anthropic's error types
// share the OpenAI names except overload (overloaded_error) and the 404 /
// 429 ones, which map directly.
func (e *Error) Anthropic() AnthropicErrorBody {
	return AnthropicErrorBody{Type: "error", Error: AnthropicError{Type: e.Type, Message: e.Message}}
}

// decodeError turns a json decoding error into a 400 naming the field.
func decodeError(err error, data []byte) *Error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := "a different type"
		if te.Type != nil {
			want = jsonKind(te.Type.Kind().String())
		}
		return Invalid(te.Field, "expected %s, got %s", want, te.Value)
	case errors.As(err, &se):
		return Invalid("", "request body is not valid JSON (at byte %d): %v", se.Offset, se)
	case len(data) == 0:
		return Invalid("", "request body is empty")
	}
	var fe *fieldError
	if errors.As(err, &fe) {
		return Invalid(fe.field, "%s", fe.msg)
	}
	return Invalid("", "request body: %v", err)
}

// jsonKind names a Go kind as a JSON type.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	}
	return k
}

// fieldError is returned by custom unmarshalers for a value of the right
// JSON type but a wrong shape; the decoder does not add the path, so field
// is what the unmarshaler knows.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }
