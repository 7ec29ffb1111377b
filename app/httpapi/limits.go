package httpapi

import (
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
)

// DefaultRateWindow is RateWindow when Deps sets none.
const DefaultRateWindow = time.Minute

// rateLimit allows each client, by its address, max requests a window;
// the next are refused with 429, Retry-After and problem JSON. Counts are
// held in this process's memory: with several replicas, each counts on its
// own. skip, when not nil, exempts a request from the count. A limit of 0
// turns it off.
func rateLimit(limit int, window time.Duration, what string, skip func(*fiber.Ctx) bool) fiber.Handler {
	if limit <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	refused := &requestError{status: fiber.StatusTooManyRequests,
		detail: fmt.Sprintf("this client sent more than %d %s in %s; retry after the seconds in Retry-After", limit, what, window)}
	return limiter.New(limiter.Config{
		Next:       skip,
		Max:        limit,
		Expiration: window,
		// The connection's peer: a forwarded-for header is the client's to forge.
		KeyGenerator: func(c *fiber.Ctx) string { return c.IP() },
		// limiter has set Retry-After.
		LimitReached: func(*fiber.Ctx) error { return refused },
	})
}

// hasAPIKey exempts requests with a key from the anonymous-write limit:
// one with a wrong key is a 401 after one indexed lookup.
func hasAPIKey(c *fiber.Ctx) bool { return c.Get(headerAPIKey) != "" }
