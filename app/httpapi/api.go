// Package httpapi is the REST API: Fiber handlers over the domain, problem
// JSON errors, and the OpenAPI annotations swag turns into docs/.
//
//	@title						twitter-api
//	@version					1.0
//	@description				A Twitter-like REST API: tweets, users and API keys.
//	@description				Errors are RFC 9457 problem details (application/problem+json).
//	@BasePath					/
//	@accept						json
//	@produce					json
//	@securityDefinitions.apikey	APIKey
//	@in							header
//	@name						X-API-Key
//	@description				The key returned once by POST /users. Optional when creating a tweet; required to change or delete a tweet that has an author.
package httpapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// readBodyBytes is how much the server reads before it stops listening.
// Refusing a body it has read lets the 413 reach the client; refusing one
// mid-upload (fasthttp's own limit) closes the connection, and a client
// still sending may see a reset instead of the answer.
const readBodyBytes = 8 * MaxBodyBytes

// TweetStore is everything the API needs from tweet storage.
type TweetStore interface {
	tweetCreator
	tweetGetter
	tweetLister
	userTweetLister
	tweetUpdater
	tweetDeleter
}

// UserStore is everything the API needs from user storage.
type UserStore interface {
	userCreator
	userGetter
	authenticator
}

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the API's collaborators and settings.
type Deps struct {
	Tweets    TweetStore
	Users     UserStore
	DB        Pinger
	Logger    *slog.Logger
	Version   string
	StartedAt time.Time

	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
}

// New returns the Fiber app serving the whole API.
func New(d Deps) *fiber.App {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	errHandler := errorHandler(d.Logger)
	app := fiber.New(fiber.Config{
		AppName:               "twitter-api",
		ErrorHandler:          errHandler,
		BodyLimit:             readBodyBytes,
		ReadTimeout:           d.ReadTimeout,
		WriteTimeout:          d.WriteTimeout,
		IdleTimeout:           d.IdleTimeout,
		CaseSensitive:         true,
		DisableStartupMessage: true,
	})
	app.Use(requestID(), accessLog(d.Logger, errHandler), recoverPanics(d.Logger), limitBody(MaxBodyBytes))
	addRoutes(app, d)
	return app
}

// actor is the authenticated user of the request, or nil.
func actor(c *fiber.Ctx) *twitter.User {
	u, _ := c.Locals(actorKey{}).(*twitter.User)
	return u
}

type actorKey struct{}
