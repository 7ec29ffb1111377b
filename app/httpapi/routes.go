package httpapi

import (
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/swagger"

	_ "github.com/twitter-api/twitter-api/docs" // registers the generated OpenAPI document
)

// addRoutes is the whole API surface, a line a route.
func addRoutes(app *fiber.App, d Deps, bodies *bodyReader, clients *clientAddrs) {
	// A handler that acts for a user (an actorHandler) is wrapped:
	// requireUser(d.Users)(h) when the route needs an API key, maybeUser(h)
	// when anonymous callers may use it too, anonymous(h) when it never
	// acts for one.
	maybeUser := optionalUser(d.Users)
	needUser := requireUser(d.Users)
	// once(h) answers the retries of a create sent with an Idempotency-Key
	// with its first answer.
	once := idempotent(d.Idempotency, d.Logger)
	// A route that takes a JSON body reads it, within the body limit; no
	// other route reads one.
	jsonBody := bodies.json(d.MaxBodyBytes)
	// Abuse controls: by client address before any body is read; by user
	// once the key has named one (keyedWrites.wrap(h), account.wrap(h)).
	signups := rateLimit(d.SignupLimit, d.RateWindow, "POST /users", clients, nil)
	anonymousWrites := rateLimit(d.AnonymousWriteLimit, d.RateWindow, "writes without an API key", clients, hasAPIKey)
	keyedWrites := newUserLimit(d.KeyedWriteLimit, d.RateWindow, "writes of tweets")
	account := newUserLimit(d.AccountLimit, d.RateWindow, "key rotations, revocations and account deletions")

	app.Get("/", handleRoot())
	app.Get("/swagger/*", swagger.HandlerDefault)
	app.Get("/hello", handleHello())
	app.Get("/healthz", handleHealthz(d.Version, d.StartedAt))
	app.Get("/readyz", handleReadyz(d.Ready, d.Draining))

	app.Get("/tweets", handleListTweets(d.Tweets))
	app.Post("/tweets", anonymousWrites, jsonBody, maybeUser(keyedWrites.wrap(once(handleCreateTweet(d.Tweets)))))
	app.Get("/tweets/:id", handleGetTweet(d.Tweets))
	app.Patch("/tweets/:id", anonymousWrites, jsonBody, maybeUser(keyedWrites.wrap(handleUpdateTweet(d.Tweets))))
	app.Delete("/tweets/:id", anonymousWrites, maybeUser(keyedWrites.wrap(handleDeleteTweet(d.Tweets))))

	app.Post("/users", signups, jsonBody, anonymous(once(handleCreateUser(d.Users))))
	app.Get("/users/:id", handleGetUser(d.Users))
	app.Get("/users/:id/tweets", handleListUserTweets(d.Tweets))
	app.Delete("/users/:id", needUser(account.wrap(handleDeleteUser(d.Users))))
	app.Post("/users/:id/keys", bodies.optionalJSON(d.MaxBodyBytes), needUser(account.wrap(handleRotateKey(d.Users, d.APIKeyOverlap))))
	app.Delete("/users/:id/keys/current", needUser(account.wrap(handleRevokeKey(d.Users))))
}
