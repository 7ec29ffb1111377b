package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// headerIdempotencyKey makes a create safe to retry (IETF httpapi
// idempotency-key draft): see docs/reliability-and-security.md.
const headerIdempotencyKey = "Idempotency-Key"

// maxIdempotencyKeyBytes bounds the key, unquoted: a UUID needs 36.
const maxIdempotencyKeyBytes = 255

// keepTimeout bounds recording a create's answer, which runs past the
// request's own end: a create answered from its commit after the
// request's deadline (see docs/lists.md) is still kept.
const keepTimeout = 5 * time.Second

// idempotent runs h once per Idempotency-Key: a request that carries one
// claims it, and its retries (same key, same method, path and body) get its
// answer, from any replica. Only a success is kept; an error answer
// created nothing, so it releases the key and a retry runs again.
func idempotent(keys twitter.IdempotencyService, log *slog.Logger) func(actorHandler) actorHandler {
	return func(h actorHandler) actorHandler {
		if keys == nil { // Services without it: the header is ignored
			return h
		}
		return func(c *fiber.Ctx, actor *twitter.User) error {
			key, err := idempotencyKey(c)
			if err != nil {
				return err
			}
			if key == "" {
				return h(c, actor)
			}
			k := twitter.IdempotencyKey{Key: key, Fingerprint: fingerprint(c)}
			if actor != nil {
				k.UserID = &actor.ID
			}
			first, err := keys.Claim(c.UserContext(), k)
			if errors.Is(err, twitter.ErrIdempotencyKeyInUse) {
				c.Set(fiber.HeaderRetryAfter, "1")
			}
			if err != nil {
				return err
			}
			if first != nil {
				return replay(c, *first)
			}
			err = h(c, actor)
			ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), keepTimeout)
			defer cancel()
			if status := c.Response().StatusCode(); err != nil || status >= fiber.StatusMultipleChoices {
				if rerr := keys.Release(ctx, k); rerr != nil {
					log.Warn("idempotency key not released: its retries get 409 until it expires",
						"request_id", c.Locals(requestIDKey{}), "error", rerr.Error())
				}
				return err
			}
			a := twitter.Answer{
				Status:   c.Response().StatusCode(),
				Location: string(c.Response().Header.Peek(fiber.HeaderLocation)),
				Body:     slices.Clone(c.Response().Body()),
			}
			if err := keys.Keep(ctx, k, a); err != nil {
				log.Warn("idempotency answer not kept: its retries get 409 until it expires",
					"request_id", c.Locals(requestIDKey{}), "error", err.Error())
			}
			return nil
		}
	}
}

// replay answers with a kept answer. It may hold the only copy of an API
// key, as the first did: no cache may keep it.
func replay(c *fiber.Ctx, a twitter.Answer) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if a.Location != "" {
		c.Location(a.Location)
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(a.Status).Send(a.Body)
}

// idempotencyKey returns the request's Idempotency-Key, "" when it has none.
// The draft makes it a structured-field string ("..."); a bare token, as
// other APIs take, is accepted too.
func idempotencyKey(c *fiber.Ctx) (string, error) {
	values := c.Request().Header.PeekAll(headerIdempotencyKey)
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", idempotencyKeyError("must be sent once")
	}
	v := bytes.TrimSpace(values[0])
	quoted := len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"'
	if quoted {
		v = v[1 : len(v)-1]
	}
	switch {
	case len(v) == 0:
		return "", idempotencyKeyError("must not be empty")
	case len(v) > maxIdempotencyKeyBytes:
		return "", idempotencyKeyError("must be at most 255 characters")
	}
	for _, b := range v {
		if b < 0x20 || b > 0x7e || b == '"' || b == '\\' || (b == ' ' && !quoted) {
			return "", idempotencyKeyError(`must be printable ASCII without " or \ (a UUID, for instance)`)
		}
	}
	return string(v), nil
}

func idempotencyKeyError(message string) error {
	return badRequest("Idempotency-Key "+message, fieldError{Field: headerIdempotencyKey, Message: message})
}

// fingerprint identifies what a request asks: its method, path and body.
func fingerprint(c *fiber.Ctx) []byte {
	h := sha256.New()
	h.Write([]byte(c.Method() + " " + c.Path() + "\n"))
	h.Write(c.Request().Body())
	return h.Sum(nil)
}
