package server

import (
	"strings"

	"github.com/dseek-ai/dseek/chat"
)

// jsonConstraint is the engine.Constraint behind response_format
// json_object: the answer must be one JSON object (RFC 8259), optionally
// preceded by whitespace; generation ends when the object closes. A prompt
// that ends inside a think block leaves the reasoning free until
// "</think>". Tokens are checked byte by byte with an incremental
// validator, so the output is always a prefix of valid JSON and, unless
// max_tokens cuts it, valid JSON.
type jsonConstraint struct {
	thinking bool   // still inside the reasoning
	tail     string // last bytes of reasoning, to find "</think>" across tokens
	v        jsonValidator
}

func newJSONConstraint(reasoning bool) *jsonConstraint {
	return &jsonConstraint{thinking: reasoning}
}

// Allow implements engine.Constraint.
func (c *jsonConstraint) Allow(_ int32, piece string, eog bool) bool {
	if eog {
		return !c.thinking && c.v.done()
	}
	rest, ok := c.afterThink(piece)
	if !ok {
		return true // still reasoning
	}
	v := c.v.clone()
	return v.feed(rest)
}

// afterThink returns the part of piece that follows the reasoning and
// whether the reasoning is over by the end of piece.
func (c *jsonConstraint) afterThink(piece string) (string, bool) {
	if !c.thinking {
		return piece, true
	}
	s := c.tail + piece
	if i := strings.Index(s, chat.TokEndThink); i >= 0 {
		return s[i+len(chat.TokEndThink):], true
	}
	return "", false
}

// Accept implements engine.Constraint.
func (c *jsonConstraint) Accept(_ int32, piece string) {
	rest, ok := c.afterThink(piece)
	if !ok {
		s := c.tail + piece
		c.tail = s[max(0, len(s)-len(chat.TokEndThink)):]
		return
	}
	c.thinking = false
	c.v.feed(rest)
}

// Done implements engine.Constraint.
func (c *jsonConstraint) Done() bool { return !c.thinking && c.v.done() }

// jsonValidator checks a JSON text incrementally. Its state is a stack of
// open containers and a scanner state; feed reports whether the text is
// still a prefix of one valid top-level object.
type jsonValidator struct {
	stack []byte // '{' or '['
	st    jstate
	lit   string // remaining bytes of true/false/null
	hex   int    // remaining hex digits of a \u escape
	key   bool   // the current string is an object key
	ended bool   // the top-level object closed
}

type jstate uint8

const (
	jsStart      jstate = iota // before the top-level object
	jsValue                    // expecting a value
	jsKeyOrEnd                 // after '{': a key or '}'
	jsKey                      // after ',' in an object: a key
	jsColon                    // after a key
	jsCommaOrEnd               // after a value inside a container
	jsValueOrEnd               // after '[': a value or ']'
	jsString                   // inside a string
	jsEscape                   // after a backslash
	jsLiteral                  // inside true/false/null
	jsMinus                    // after '-'
	jsZero                     // after a leading 0
	jsInt                      // in the integer digits
	jsDot                      // after '.'
	jsFrac                     // in the fraction digits
	jsExp                      // after 'e'
	jsExpSign                  // after 'e+' or 'e-'
	jsExpDigits                // in the exponent digits
)

func (v *jsonValidator) clone() jsonValidator {
	c := *v
	c.stack = append([]byte(nil), v.stack...)
	return c
}

// done reports whether the top-level object is complete.
func (v *jsonValidator) done() bool { return v.ended }

// feed consumes s; false means s cannot continue a valid object.
func (v *jsonValidator) feed(s string) bool {
	for i := 0; i < len(s); i++ {
		if !v.byte(s[i]) {
			return false
		}
	}
	return true
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// byte consumes one byte.
func (v *jsonValidator) byte(b byte) bool {
	if v.ended {
		return false // nothing may follow the object
	}
	switch v.st {
	case jsString:
		return v.inString(b)
	case jsEscape:
		return v.escape(b)
	case jsLiteral:
		if b != v.lit[0] {
			return false
		}
		if v.lit = v.lit[1:]; v.lit == "" {
			v.afterValue()
		}
		return true
	case jsMinus, jsZero, jsInt, jsDot, jsFrac, jsExp, jsExpSign, jsExpDigits:
		return v.number(b)
	}
	if isSpace(b) {
		return true
	}
	return v.structural(b)
}

// structural handles a non-space byte between tokens.
func (v *jsonValidator) structural(b byte) bool {
	switch v.st {
	case jsStart:
		if b != '{' {
			return false
		}
		v.push('{')
		v.st = jsKeyOrEnd
	case jsKeyOrEnd, jsKey:
		switch {
		case b == '"':
			v.st, v.key = jsString, true
		case b == '}' && v.st == jsKeyOrEnd:
			v.pop()
		default:
			return false
		}
	case jsColon:
		if b != ':' {
			return false
		}
		v.st = jsValue
	case jsCommaOrEnd:
		return v.commaOrEnd(b)
	case jsValue, jsValueOrEnd:
		if b == ']' && v.st == jsValueOrEnd {
			v.pop()
			return true
		}
		return v.value(b)
	}
	return true
}

// commaOrEnd handles ',' or the container's closing bracket.
func (v *jsonValidator) commaOrEnd(b byte) bool {
	top := v.stack[len(v.stack)-1]
	switch {
	case b == ',' && top == '{':
		v.st = jsKey
	case b == ',':
		v.st = jsValue
	case (b == '}' && top == '{') || (b == ']' && top == '['):
		v.pop()
	default:
		return false
	}
	return true
}

// value starts a value.
func (v *jsonValidator) value(b byte) bool {
	switch {
	case b == '{':
		v.push('{')
		v.st = jsKeyOrEnd
	case b == '[':
		v.push('[')
		v.st = jsValueOrEnd
	case b == '"':
		v.st, v.key = jsString, false
	case b == 't':
		v.st, v.lit = jsLiteral, "rue"
	case b == 'f':
		v.st, v.lit = jsLiteral, "alse"
	case b == 'n':
		v.st, v.lit = jsLiteral, "ull"
	case b == '-':
		v.st = jsMinus
	case b == '0':
		v.st = jsZero
	case b >= '1' && b <= '9':
		v.st = jsInt
	default:
		return false
	}
	return true
}

func (v *jsonValidator) push(c byte) { v.stack = append(v.stack, c) }

// pop closes a container.
func (v *jsonValidator) pop() {
	v.stack = v.stack[:len(v.stack)-1]
	v.afterValue()
}

// afterValue moves past a complete value.
func (v *jsonValidator) afterValue() {
	if len(v.stack) == 0 {
		v.ended = true
		return
	}
	v.st = jsCommaOrEnd
}

// inString consumes a byte inside a string.
func (v *jsonValidator) inString(b byte) bool {
	switch {
	case b == '"':
		if v.key {
			v.st = jsColon
		} else {
			v.afterValue()
		}
	case b == '\\':
		v.st = jsEscape
	case b < 0x20:
		return false
	}
	return true
}

// escape consumes the byte after a backslash, or a \u hex digit.
func (v *jsonValidator) escape(b byte) bool {
	if v.hex > 0 {
		if !isHex(b) {
			return false
		}
		if v.hex--; v.hex == 0 {
			v.st = jsString
		}
		return true
	}
	switch b {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		v.st = jsString
	case 'u':
		v.hex = 4
	default:
		return false
	}
	return true
}

func isHex(b byte) bool {
	return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F')
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// number consumes a byte of a number (RFC 8259 §6); a byte that ends the
// number is handed back to the structural scanner.
func (v *jsonValidator) number(b byte) bool {
	next, ok := jstate(0), false
	switch v.st {
	case jsMinus:
		next, ok = jsInt, isDigit(b)
		if b == '0' {
			next = jsZero
		}
	case jsDot:
		next, ok = jsFrac, isDigit(b)
	case jsExp:
		next, ok = jsExpSign, b == '+' || b == '-'
		if isDigit(b) {
			next, ok = jsExpDigits, true
		}
	case jsExpSign:
		next, ok = jsExpDigits, isDigit(b)
	default: // jsZero, jsInt, jsFrac, jsExpDigits: the number may end here
		switch {
		case isDigit(b) && v.st != jsZero:
			next, ok = v.st, true
		case b == '.' && (v.st == jsZero || v.st == jsInt):
			next, ok = jsDot, true
		case (b == 'e' || b == 'E') && v.st != jsExpDigits:
			next, ok = jsExp, true
		default:
			v.afterValue()
			return v.byte(b)
		}
	}
	if ok {
		v.st = next
	}
	return ok
}
