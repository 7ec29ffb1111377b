package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Request bodies are decoded, and responses encoded, by
// github.com/go-json-experiment/json, the module behind encoding/json/v2:
// member names match exactly, a repeated name is an error, unknown members
// are rejected, and nesting is bounded (docs/hostile-input.md lists every
// answer).

// decodeOptions: strict JSON, except that invalid UTF-8 reaches jsonString,
// which reports it as the field's error (a 422 naming it) rather than as a
// syntax error of the whole body.
var decodeOptions = json.JoinOptions(json.RejectUnknownMembers(true), jsontext.AllowInvalidUTF8(true))

// syntaxOnly checks the syntax of a body alone, so a body with a syntax
// error is a 400 even when an unknown or repeated member comes first.
var syntaxOnly = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

// encodeOptions: stored text is valid UTF-8; should anything else slip
// through, it is written as U+FFFD rather than failing the response. Struct
// types cannot repeat a name, so the encoder need not track names.
var encodeOptions = json.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// encodeJSON is Fiber's JSONEncoder: c.JSON writes every response with it.
func encodeJSON(v any) ([]byte, error) { return json.Marshal(v, encodeOptions) }

// decodeJSONValue is Fiber's JSONDecoder, for completeness: handlers use decodeJSON.
func decodeJSONValue(data []byte, v any) error { return json.Unmarshal(data, v, decodeOptions) }

// Bounds on what a problem document repeats of a request.
const (
	maxNamedMembers = 5  // unknown members named; the rest are counted
	maxNameBytes    = 64 // of each member name repeated
	// maxEchoBytes bounds each query or path value a detail quotes: the
	// problem costs no more than the request, whatever its length.
	maxEchoBytes = maxNameBytes
)

// decodeJSON decodes the request body, a single JSON object, into dst, a
// struct whose fields are all jsonString. Syntax errors are 400s naming the
// byte offset; unknown and repeated members are 422s naming them.
func decodeJSON[T any](c *fiber.Ctx, dst *T) error {
	// The raw body: c.Body() would inflate a compressed one without limit.
	body := c.Request().Body()
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	err := json.Unmarshal(body, dst, decodeOptions)
	if err == nil && trimmed[0] == '{' {
		return nil
	}
	// Syntax first: only a failing body pays for the second look.
	var syntaxErr *jsontext.SyntacticError
	if !errors.As(err, &syntaxErr) || errors.Is(syntaxErr.Err, jsontext.ErrDuplicateName) {
		if serr := json.Unmarshal(body, new(jsontext.Value), syntaxOnly); serr != nil {
			return syntaxError(serr)
		}
	}
	var semErr *json.SemanticError
	switch {
	case trimmed[0] != '{':
		return badRequest("the request body must be a JSON object")
	case errors.As(err, &syntaxErr) && errors.Is(syntaxErr.Err, jsontext.ErrDuplicateName):
		return repeatedMember(syntaxErr.JSONPointer)
	case errors.As(err, &syntaxErr):
		return syntaxError(err)
	case errors.As(err, &semErr) && errors.Is(semErr.Err, json.ErrUnknownName):
		return unknownMembers(body, fieldsOf[T]())
	}
	return badRequest("the request body could not be decoded")
}

// syntaxError is the 400 for a body that is not JSON.
func syntaxError(err error) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		return badRequest("the request body is not valid JSON")
	}
	if errors.Is(se.Err, io.ErrUnexpectedEOF) {
		return badRequest(fmt.Sprintf("the request body is not valid JSON: it ends too early, at byte %d", se.ByteOffset))
	}
	return badRequest(fmt.Sprintf("the request body is not valid JSON: %s, at byte %d",
		clip(se.Err.Error(), 2*maxNameBytes), se.ByteOffset))
}

// repeatedMember is the 422 for a member name given twice: readers differ
// on which one counts, so neither does.
func repeatedMember(at jsontext.Pointer) error {
	name := string(at)
	if at.Parent() == "" {
		name = at.LastToken()
	}
	name = clip(name, maxNameBytes)
	return &requestError{status: fiber.StatusUnprocessableEntity,
		detail: name + ": is given more than once",
		fields: []fieldError{{Field: name, Message: "is given more than once"}}}
}

// unknownMembers is the 422 for an object with members known lacks: it
// names the first few and counts the rest, so its size does not grow with
// the body. One linear pass with the library's tokenizer.
func unknownMembers(obj []byte, known map[string]bool) error {
	dec := jsontext.NewDecoder(bytes.NewReader(obj), syntaxOnly)
	if _, err := dec.ReadToken(); err != nil { // '{'
		return syntaxError(err)
	}
	var (
		fields []fieldError
		names  []string
		more   int
		seen   = map[string]bool{}
	)
	for dec.PeekKind() == '"' {
		tok, err := dec.ReadToken()
		if err != nil {
			return syntaxError(err)
		}
		if name := tok.String(); !known[name] && !seen[name] {
			if len(fields) < maxNamedMembers {
				seen[name] = true
				name = clip(name, maxNameBytes)
				fields = append(fields, fieldError{Field: name, Message: "is not a known field"})
				names = append(names, name)
			} else {
				more++ // a repeat beyond the named few is counted again: cheaper than remembering all
			}
		}
		if err := dec.SkipValue(); err != nil {
			return syntaxError(err)
		}
	}
	detail := strings.Join(names, ", ") + ": not known fields"
	if len(names) == 1 {
		detail = names[0] + ": is not a known field"
	}
	if more > 0 {
		detail += fmt.Sprintf(", and %d more unknown members", more)
	}
	return &requestError{status: fiber.StatusUnprocessableEntity, detail: detail, fields: fields}
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// knownFields caches, per request type, its JSON member names, so
// reflection on the type runs once per type; only a refused body needs them.
var knownFields sync.Map // reflect.Type -> map[string]bool

func fieldsOf[T any]() map[string]bool {
	t := reflect.TypeFor[T]()
	if m, ok := knownFields.Load(t); ok {
		return m.(map[string]bool)
	}
	m := map[string]bool{}
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	knownFields.Store(t, m)
	return m
}

// jsonString is a JSON string field that tells apart what the field's
// error should say: left out or null, a value of another JSON type, or a
// string that is not valid UTF-8 (invalid bytes, lone UTF-16 surrogates).
type jsonString struct {
	Value     string
	Present   bool   // the field was given and not null
	WrongType string // the JSON type given instead of a string
	BadUTF8   bool
}

// UnmarshalJSONFrom implements json.UnmarshalerFrom.
func (s *jsonString) UnmarshalJSONFrom(dec *jsontext.Decoder) error {
	*s = jsonString{}
	switch k := dec.PeekKind(); k {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '"':
		raw, err := dec.ReadValue()
		if err != nil {
			return err
		}
		s.Present = true
		v, err := jsontext.AppendUnquote(nil, raw)
		if err != nil {
			s.BadUTF8 = true // decodeOptions let it through to be named here
			return nil
		}
		s.Value = string(v)
		return nil
	case '{':
		s.WrongType = "object"
	case '[':
		s.WrongType = "array"
	case 't', 'f':
		s.WrongType = "boolean"
	case '0':
		s.WrongType = "number"
	}
	return dec.SkipValue()
}

// check returns the field's value, or why it is unusable.
func (s jsonString) check(field string, verr *twitter.ValidationError) (string, bool) {
	switch {
	case s.WrongType != "":
		verr.Add(field, "must be a string, got "+s.WrongType)
	case !s.Present:
		verr.Add(field, "is required")
	case s.BadUTF8:
		verr.Add(field, "must be valid UTF-8")
	default:
		return s.Value, true
	}
	return "", false
}
