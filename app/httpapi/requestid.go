package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

const headerRequestID = "X-Request-ID"

type requestIDKey struct{}

// A client's request id is kept only when it is short and plain, so it
// cannot inject anything into logs or headers.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID tags each request with the client's X-Request-ID or a new one,
// and echoes it in the response.
func requestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(headerRequestID)
		if clientRequestID.MatchString(id) {
			id = strings.Clone(id) // Fiber reuses the header's memory after the request
		} else {
			id = newRequestID()
		}
		c.Locals(requestIDKey{}, id)
		c.Set(headerRequestID, id)
		return c.Next()
	}
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
