package httpapi

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"
)

// pathID reads a positive integer id from the path.
func pathID(c *fiber.Ctx, name string) (int64, error) {
	raw := c.Params(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest(fmt.Sprintf("%s must be a positive integer below 2^63, got %q", name, clip(raw, maxEchoBytes)),
			fieldError{Field: name, Message: "must be a positive integer"})
	}
	return id, nil
}

// queryInt reads the integer query parameter name, def when it is absent:
// one that is not an integer is a 400; one beyond int64 is -1, which no
// range of the domain's accepts.
func queryInt(c *fiber.Ctx, name string, def int64) (int64, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return -1, nil
	case err != nil:
		return 0, badRequest(fmt.Sprintf("%s must be an integer, got %q", name, clip(raw, maxEchoBytes)),
			fieldError{Field: name, Message: "must be an integer"})
	}
	return n, nil
}
