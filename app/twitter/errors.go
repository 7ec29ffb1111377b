package twitter

import (
	"errors"
	"fmt"
	"strings"
)

// Errors shared by every layer. The store produces them from database
// errors; the HTTP layer turns them into statuses in one place.
var (
	ErrNotFound     = errors.New("not found")
	ErrUnauthorized = errors.New("missing or unknown API key")
	// ErrUnknownAPIKey is the ErrUnauthorized of a key that belongs to nobody.
	ErrUnknownAPIKey = fmt.Errorf("unknown API key: %w", ErrUnauthorized)
	ErrForbidden     = errors.New("not allowed")
	// ErrSupersededKey is the ErrForbidden of a previous API key, still in
	// its overlap, asked to manage the account: only the current key
	// rotates keys or deletes the account, so a key the owner rotated away
	// (perhaps because it leaked) cannot take the account over.
	ErrSupersededKey = fmt.Errorf("a superseded API key cannot manage the account: %w", ErrForbidden)
	// ErrUnavailable means a dependency (the database) did not answer; the
	// request may succeed if retried later.
	ErrUnavailable = errors.New("service unavailable")
	// ErrSchemaBehind means the database lacks migrations this version
	// needs: the service takes no traffic until `migrate up` has run.
	ErrSchemaBehind = fmt.Errorf("database schema behind this version: %w", ErrUnavailable)
	// ErrCurrentKey refuses to revoke a user's current API key alone, which
	// would leave the account without one: a new key replaces it instead.
	ErrCurrentKey = errors.New("the current API key cannot be revoked alone")
	// ErrBadCursor refuses a list cursor that is malformed, altered or
	// issued by another database.
	ErrBadCursor = errors.New("malformed or forged cursor")
)

// ConflictError reports that a unique field already holds the given value.
type ConflictError struct {
	Field string
}

func (e *ConflictError) Error() string { return e.Field + " is already taken" }

// Is matches another ConflictError on the same field, so callers can ask
// errors.Is(err, &ConflictError{Field: "email"}).
func (e *ConflictError) Is(target error) bool {
	t, ok := target.(*ConflictError)
	return ok && t.Field == e.Field
}

// FieldError describes one invalid input field.
type FieldError struct {
	Field   string
	Message string
}

// ValidationError lists every invalid field of an input.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// Add records a field error.
func (e *ValidationError) Add(field, message string) {
	e.Fields = append(e.Fields, FieldError{Field: field, Message: message})
}

// Err returns e when it holds at least one field error, else nil.
func (e *ValidationError) Err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Has reports whether field already has an error.
func (e *ValidationError) Has(field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}
