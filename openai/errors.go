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

// Anthropic's error types (error.type on /v1/messages), its documented set.
const (
	AnthropicInvalidRequest  = "invalid_request_error" // 400, and other 4xx
	AnthropicAuthentication  = "authentication_error"  // 401
	AnthropicPermission      = "permission_error"      // 403
	AnthropicNotFound        = "not_found_error"       // 404
	AnthropicRequestTooLarge = "request_too_large"     // 413
	AnthropicRateLimit       = "rate_limit_error"      // 429
	AnthropicAPI             = "api_error"             // 500: an unexpected server error
	AnthropicOverloaded      = "overloaded_error"      // the server cannot take the request now
)

// AnthropicType maps an OpenAI error type and HTTP status to Anthropic's
// error type: the same name where Anthropic has one, request_too_large for
// a 413, api_error for server errors, and invalid_request_error for any
// other client error.
func AnthropicType(status int, typ string) string {
	switch {
	case typ == TypeOverloaded:
		return AnthropicOverloaded
	case typ == TypeServer || status >= 500:
		return AnthropicAPI
	case status == 413:
		return AnthropicRequestTooLarge
	case typ == TypeAuthentication || status == 401:
		return AnthropicAuthentication
	case status == 403:
		return AnthropicPermission
	case typ == TypeNotFound || status == 404:
		return AnthropicNotFound
	case typ == TypeRateLimit || status == 429:
		return AnthropicRateLimit
	}
	return AnthropicInvalidRequest
}

// Anthropic converts e to Anthropic's error body, with the type mapped by
// AnthropicType.
func (e *Error) Anthropic() AnthropicErrorBody {
	return AnthropicErrorBody{Type: "error", Error: AnthropicError{Type: AnthropicType(e.Status, e.Type), Message: e.Message}}
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
