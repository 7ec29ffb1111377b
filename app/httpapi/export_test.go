package httpapi

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// TweetJSON is what the API writes for t.
func TweetJSON(t twitter.Tweet) []byte { return appendTweet(nil, t) }

// TweetJSONReference is what encoding/json makes of the documented
// response type for t.
func TweetJSONReference(t twitter.Tweet) ([]byte, error) { return json.Marshal(newTweetResponse(t)) }

// WhoAmI is a route that needs an API key and answers its owner's
// username: requireUser's specs mount it.
func WhoAmI(users twitter.UserService) fiber.Handler {
	return requireUser(users)(func(c *fiber.Ctx, actor *twitter.User) error {
		return c.SendString(actor.Username)
	})
}
