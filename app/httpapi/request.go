package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// decodeJSON decodes the request body, a single JSON object, into dst, a
// struct whose fields are all jsonString. Syntax errors are 400s; unknown
// fields are 422s naming the field. The body is checked once (json.Valid, no
// allocation) and walked once: each known field's value goes straight to its
// jsonString, with no intermediate map and no second parse.
func decodeJSON[T any](c *fiber.Ctx, dst *T) error {
	// The raw body: c.Body() would inflate a compressed one without limit.
	body := bytes.TrimSpace(c.Request().Body())
	if len(body) == 0 {
		return badRequest("the request body is empty; send a JSON object")
	}
	if !json.Valid(body) {
		// Syntax first: a malformed body is a 400 even when it also has an
		// unknown field. Only a failing body pays for the detailed error.
		if err := json.Unmarshal(body, new(any)); err != nil {
			return decodeError(err)
		}
		return badRequest("the request body is not valid JSON")
	}
	if body[0] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	fields := fieldsOf[T]()
	target := reflect.ValueOf(dst).Elem()
	var unknown []string
	err := eachMember(body, func(name string, value []byte) error {
		i, ok := fields[name]
		if !ok {
			// Exact names only: encoding/json alone would accept "TEXT" for "text".
			if !slices.Contains(unknown, name) {
				unknown = append(unknown, name)
			}
			return nil
		}
		// A repeated key is decoded again and the last one wins, as with
		// encoding/json.
		return target.Field(i).Addr().Interface().(*jsonString).UnmarshalJSON(value)
	})
	if err != nil {
		return decodeError(err)
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		var verr twitter.ValidationError
		for _, name := range unknown {
			verr.Add(name, "is not a known field")
		}
		return &verr
	}
	return nil
}

// knownFields caches, per request type, its JSON field names and their
// struct field indexes, so reflection on the type runs once per type, not
// once per request.
var knownFields sync.Map // reflect.Type -> map[string]int

func fieldsOf[T any]() map[string]int {
	t := reflect.TypeFor[T]()
	if m, ok := knownFields.Load(t); ok {
		return m.(map[string]int)
	}
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type != reflect.TypeFor[jsonString]() {
			panic(fmt.Sprintf("decodeJSON: %s.%s must be a jsonString", t.Name(), f.Name))
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		m[name] = i
	}
	knownFields.Store(t, m)
	return m
}

// eachMember calls fn with the name and raw value of each member of obj, a
// JSON object that json.Valid has accepted.
func eachMember(obj []byte, fn func(name string, value []byte) error) error {
	i := skipSpace(obj, 1)
	for i < len(obj) && obj[i] != '}' {
		end := skipValue(obj, i)
		rawName := obj[i:end]
		var name string
		if bytes.IndexByte(rawName, '\\') < 0 {
			name = string(rawName[1 : len(rawName)-1])
		} else if err := json.Unmarshal(rawName, &name); err != nil {
			return err
		}
		i = skipSpace(obj, skipSpace(obj, end)+1) // past the colon
		end = skipValue(obj, i)
		if err := fn(name, obj[i:end]); err != nil {
			return err
		}
		i = skipSpace(obj, end)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value starting at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number, true, false or null: up to the next delimiter.
	for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' &&
		b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
		i++
	}
	return i
}

// skipString returns the end of the string literal starting at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

func decodeError(err error) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return badRequest(fmt.Sprintf("the request body is not valid JSON: %s at byte %d", syntaxErr.Error(), syntaxErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("the request body is not valid JSON: it ends too early")
	case errors.As(err, &typeErr):
		return invalid(typeErr.Field, "must be a "+typeErr.Type.String()+", got "+typeErr.Value)
	}
	return badRequest("the request body could not be decoded: " + err.Error())
}

// jsonString is a JSON string field that notices what encoding/json would
// silently repair: invalid UTF-8 and lone UTF-16 surrogates both decode to
// U+FFFD. It also records a value of the wrong JSON type instead of failing
// the whole body, so the error can name the field.
type jsonString struct {
	Value     string
	Present   bool   // the field was given and not null
	WrongType string // the JSON type given instead of a string
	BadUTF8   bool
}

func (s *jsonString) UnmarshalJSON(raw []byte) error {
	*s = jsonString{}
	switch raw[0] {
	case 'n':
		return nil
	case '"':
	case '{':
		s.WrongType = "object"
		return nil
	case '[':
		s.WrongType = "array"
		return nil
	case 't', 'f':
		s.WrongType = "boolean"
		return nil
	default:
		s.WrongType = "number"
		return nil
	}
	s.Present = true
	if !utf8.Valid(raw) || hasLoneSurrogate(raw) {
		s.BadUTF8 = true
		return nil
	}
	if bytes.IndexByte(raw, '\\') < 0 {
		// No escapes: the literal between the quotes is the value.
		s.Value = string(raw[1 : len(raw)-1])
		return nil
	}
	return json.Unmarshal(raw, &s.Value)
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

// hasLoneSurrogate reports whether the JSON string literal raw contains a
// \uXXXX escape of a UTF-16 surrogate that is not part of a valid pair.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		i++
		if i >= len(raw) || raw[i] != 'u' {
			continue // a simple escape such as \\ or \"
		}
		r, ok := hex4(raw, i+1)
		i += 4
		if !ok {
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		case r >= 0xD800 && r <= 0xDBFF:
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return true
			}
			lo, ok := hex4(raw, i+3)
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

func hex4(b []byte, at int) (rune, bool) {
	if at+4 > len(b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[at:at+4]), 16, 32)
	return rune(n), err == nil
}

// pathID reads a positive integer id from the path.
func pathID(c *fiber.Ctx, name string) (int64, error) {
	raw := c.Params(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest(fmt.Sprintf("%s must be a positive integer below 2^63, got %q", name, raw),
			fieldError{Field: name, Message: "must be a positive integer"})
	}
	return id, nil
}

// pageParams reads ?limit= and ?after_id=: non-integers are 400s,
// integers out of range 422s.
func pageParams(c *fiber.Ctx) (twitter.Page, error) {
	page := twitter.Page{Limit: twitter.DefaultPageLimit}
	var verr twitter.ValidationError
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return page, badRequest(fmt.Sprintf("limit must be an integer, got %q", raw),
				fieldError{Field: "limit", Message: "must be an integer"})
		case err != nil || n < 1 || n > twitter.MaxPageLimit:
			verr.Add("limit", fmt.Sprintf("must be between 1 and %d", twitter.MaxPageLimit))
		default:
			page.Limit = int(n)
		}
	}
	if raw := c.Query("after_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return page, badRequest(fmt.Sprintf("after_id must be an integer, got %q", raw),
				fieldError{Field: "after_id", Message: "must be an integer"})
		case err != nil || n < 0:
			verr.Add("after_id", "must be between 0 and 2^63-1")
		default:
			page.AfterID = n
		}
	}
	return page, verr.Err()
}

// setNextLink adds a Link header to the following page when there is one.
func setNextLink(c *fiber.Ctx, page twitter.Page, lastID int64) {
	c.Set(fiber.HeaderLink, fmt.Sprintf(`<%s?limit=%d&after_id=%d>; rel="next"`, c.Path(), page.Limit, lastID))
}
