package twitter

import (
	"context"
	"errors"
)

// IdempotencyKey is a create sent with an Idempotency-Key header: its
// retries, with the same key and the same request, get its first answer
// instead of creating again.
type IdempotencyKey struct {
	// Key is the header's value, chosen by the client.
	Key string
	// UserID scopes the key to the user a keyed request acts as; nil for
	// an anonymous request, whose key is scoped by itself.
	UserID *int64
	// Fingerprint is a hash of what the request asks (method, path,
	// body): a retry must ask the same.
	Fingerprint []byte
}

// Answer is the answer a request with an Idempotency-Key got.
type Answer struct {
	Status   int
	Location string
	Body     []byte
}

var (
	// ErrIdempotencyKeyReused refuses an Idempotency-Key sent before with
	// another request.
	ErrIdempotencyKeyReused = errors.New("the Idempotency-Key was sent with another request")
	// ErrIdempotencyKeyInUse refuses an Idempotency-Key whose first
	// request has not answered yet.
	ErrIdempotencyKeyInUse = errors.New("a request with this Idempotency-Key is still in progress")
)

// IdempotencyService keeps the answers of requests sent with an
// Idempotency-Key.
type IdempotencyService interface {
	// Claim reserves k for a request about to run, and returns nil; or
	// the answer of the request that claimed k before. ErrIdempotencyKeyReused
	// when that request asked something else, ErrIdempotencyKeyInUse while it
	// has no answer yet.
	Claim(ctx context.Context, k IdempotencyKey) (*Answer, error)
	// Keep records the answer of the request that claimed k.
	Keep(ctx context.Context, k IdempotencyKey, a Answer) error
	// Release gives k up after its request failed having created nothing,
	// so that a retry runs again.
	Release(ctx context.Context, k IdempotencyKey) error
}
