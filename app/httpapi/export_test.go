package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// WhoAmI is a route that needs an API key and answers its owner's
// username: requireUser's specs mount it.
func WhoAmI(users twitter.UserService) fiber.Handler {
	return requireUser(users)(func(c *fiber.Ctx, actor *twitter.User) error {
		return c.SendString(actor.Username)
	})
}
