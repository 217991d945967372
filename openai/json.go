package openai

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Content is a message content: a string, null, or an array of content
// parts. Only text parts carry text; other part types are kept so that
// validation can name them.
type Content struct {
	// Text is the string content, or the text parts joined with "\n".
	Text string
	// Parts are the content parts when the content was an array.
	Parts []ContentPart
	// Null is set when the content was null.
	Null bool
	// IsArray is set when the content was an array.
	IsArray bool
	present bool // a non-null value was decoded
}

// Missing reports whether the content was absent or null.
func (c *Content) Missing() bool { return !c.present }

// ContentPart is one element of an array content.
type ContentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// kindOf names the JSON kind of a raw value for error messages.
func kindOf(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "bool"
	case 'n':
		return "null"
	}
	return "number"
}

// typeError reports a value of the wrong JSON kind; the decoder adds the
// field path. want is looked up in wantText for the message.
func typeError(b []byte, want reflect.Type) error {
	return &json.UnmarshalTypeError{Value: kindOf(b), Type: want}
}

// wantText describes the accepted shapes of the custom types.
var wantText = map[reflect.Type]string{
	reflect.TypeFor[Content]():      "a string, null or an array of content parts",
	reflect.TypeFor[StringList]():   "a string or an array of strings",
	reflect.TypeFor[ToolChoice]():   `"none", "auto", "required" or {"type": "function", "function": {"name": ...}}`,
	reflect.TypeFor[Prompt]():       "a string, an array of one string, or an array of token ids",
	reflect.TypeFor[JSONText]():     "a JSON string holding JSON, or a JSON object",
	reflect.TypeFor[AnthContent]():  "a string or an array of content blocks",
	reflect.TypeFor[AnthSystem]():   "a string or an array of text blocks",
	reflect.TypeFor[AnthToolPick](): `an object {"type": "auto" | "any" | "tool" | "none"}`,
	reflect.TypeFor[LogitBias]():    "an object mapping token ids to numbers between -100 and 100",
}

// UnmarshalJSON accepts a string, null or an array of parts.
func (c *Content) UnmarshalJSON(b []byte) error {
	*c = Content{}
	switch kindOf(b) {
	case "null":
		c.Null = true
		return nil
	case "string":
		c.present = true
		return json.Unmarshal(b, &c.Text)
	case "array":
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return typeError(b, reflect.TypeFor[Content]())
		}
		c.Parts = make([]ContentPart, len(raws))
		for i, r := range raws {
			if err := json.Unmarshal(r, &c.Parts[i]); err != nil {
				return &json.UnmarshalTypeError{Value: partProblem(r, i, err), Type: reflect.TypeFor[Content]()}
			}
		}
		c.IsArray, c.present = true, true
		for i, p := range c.Parts {
			if p.Type == "text" {
				if i > 0 && c.Text != "" {
					c.Text += "\n"
				}
				c.Text += p.Text
			}
		}
		return nil
	}
	return typeError(b, reflect.TypeFor[Content]())
}

// partProblem describes why element i of an array content is not a content
// part, for the "got ..." of the error message.
func partProblem(raw []byte, i int, err error) string {
	if k := kindOf(raw); k != "object" {
		return fmt.Sprintf("an array holding a %s at [%d]", k, i)
	}
	var te *json.UnmarshalTypeError
	if asTypeError(err, &te) && te.Field != "" {
		return fmt.Sprintf("an array whose part [%d] has a %s %s", i, te.Value, te.Field)
	}
	return fmt.Sprintf("an array whose part [%d] is malformed", i)
}

// MarshalJSON writes the content as a string (null when Null).
func (c Content) MarshalJSON() ([]byte, error) {
	if !c.present {
		return []byte("null"), nil
	}
	return json.Marshal(c.Text)
}

// StringList is a string or an array of strings (the stop field).
type StringList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	switch kindOf(b) {
	case "null":
		*s = nil
		return nil
	case "string":
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = StringList{v}
		return nil
	case "array":
		var v []string
		if err := json.Unmarshal(b, &v); err != nil {
			return typeError(b, reflect.TypeFor[StringList]())
		}
		*s = v
		return nil
	}
	return typeError(b, reflect.TypeFor[StringList]())
}

// JSONText is JSON carried as text: OpenAI sends tool-call arguments as a
// JSON string holding JSON; an object is accepted too and kept as its text.
type JSONText string

// UnmarshalJSON accepts a string (kept as is) or an object (its JSON text).
func (j *JSONText) UnmarshalJSON(b []byte) error {
	switch kindOf(b) {
	case "string":
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*j = JSONText(v)
		return nil
	case "object":
		var c bytes.Buffer
		if err := json.Compact(&c, b); err != nil {
			return err
		}
		*j = JSONText(c.String())
		return nil
	case "null":
		*j = ""
		return nil
	}
	return typeError(b, reflect.TypeFor[JSONText]())
}

// decodeStrict unmarshals data into v, mapping errors to 400s that name the
// field.
func decodeStrict(data []byte, v any) *Error {
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if asTypeError(err, &te) && te.Field != "" {
			te.Field = indexedField(data, reflect.TypeOf(v), te.Field)
		}
		if e := decodeError(err, data); e != nil {
			if te != nil && te.Type != nil {
				if w, ok := wantText[te.Type]; ok {
					return Invalid(te.Field, "expected %s, got %s", w, te.Value)
				}
			}
			return e
		}
	}
	if kindOf(data) != "object" {
		return Invalid("", "request body must be a JSON object, got %s", kindOf(data))
	}
	return nil
}

// asTypeError is errors.As for *json.UnmarshalTypeError.
func asTypeError(err error, te **json.UnmarshalTypeError) bool {
	t, ok := err.(*json.UnmarshalTypeError)
	if ok {
		*te = t
	}
	return ok
}

// indexedField adds array indexes to field, the dotted path of a decoding
// error (encoding/json's UnmarshalTypeError.Field has none: "messages.content"
// for the content of any message). It walks data along the path and, at each
// array of structs, re-decodes the elements one by one to find the first that
// fails, giving e.g. "messages[2].content". t is the type decoded into. When
// the walk cannot follow the path (a key spelled in another case, a custom
// unmarshaler) the rest of field is kept as it is.
func indexedField(data []byte, t reflect.Type, field string) string {
	seg, rest, _ := strings.Cut(field, ".")
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	sf, ok := jsonField(t, seg)
	if !ok {
		return field
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) != nil {
		return field
	}
	raw, ok := obj[seg]
	if !ok {
		return field
	}
	ft := sf.Type
	for ft.Kind() == reflect.Pointer {
		ft = ft.Elem()
	}
	if ft.Kind() == reflect.Slice && kindOf(raw) == "array" && !reflect.PointerTo(ft).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		var elems []json.RawMessage
		if json.Unmarshal(raw, &elems) != nil {
			return field
		}
		for i, el := range elems {
			if json.Unmarshal(el, reflect.New(ft.Elem()).Interface()) != nil {
				p := fmt.Sprintf("%s[%d]", seg, i)
				if rest == "" {
					return p
				}
				return p + "." + indexedField(el, ft.Elem(), rest)
			}
		}
		return field
	}
	if rest == "" {
		return seg
	}
	return seg + "." + indexedField(raw, ft, rest)
}

// jsonField finds the field of struct type t whose JSON name is name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == name || (tag == "" && f.Name == name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
