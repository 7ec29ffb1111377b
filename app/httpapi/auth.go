package httpapi

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

const headerAPIKey = "X-API-Key"

var errNoAPIKey = fmt.Errorf("no %s header: %w", headerAPIKey, twitter.ErrUnauthorized)

// actorIDKey holds the id of the user a request acts for, once known.
type actorIDKey struct{}

// authenticator finds the user an API key belongs to.
type authenticator interface {
	ByAPIKey(ctx context.Context, key string) (twitter.User, error)
}

// actorHandler serves a request for actor, the owner of its X-API-Key.
// Only requireUser and optionalUser make it a fiber.Handler, so no route
// can reach one without authentication having run.
type actorHandler func(c *fiber.Ctx, actor *twitter.User) error

// requireUser runs h for the owner of X-API-Key, never with a nil actor: a
// request without the header, or with a key that belongs to nobody, gets 401.
func requireUser(users authenticator) func(actorHandler) fiber.Handler {
	return withUser(users, true)
}

// optionalUser runs h for the owner of X-API-Key, or with a nil actor when
// the header is absent (an anonymous request); an unknown key gets 401.
func optionalUser(users authenticator) func(actorHandler) fiber.Handler {
	return withUser(users, false)
}

// anonymous runs h without an actor, whatever X-API-Key holds.
func anonymous(h actorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error { return h(c, nil) }
}

func withUser(users authenticator, required bool) func(actorHandler) fiber.Handler {
	return func(h actorHandler) fiber.Handler {
		return func(c *fiber.Ctx) error {
			key := c.Get(headerAPIKey)
			if key == "" {
				if required {
					return errNoAPIKey
				}
				return h(c, nil)
			}
			u, err := users.ByAPIKey(c.UserContext(), key)
			if err != nil {
				return err
			}
			c.Locals(actorIDKey{}, u.ID) // for the access log
			return h(c, &u)
		}
	}
}
