package httpapi

import (
	"slices"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// tweetRequest is the body of POST /tweets and PATCH /tweets/{id}.
type tweetRequest struct {
	// 1 to 280 characters after trimming surrounding white space; no
	// control characters but newline and tab, no bidirectional overrides.
	Text jsonString `json:"text" swaggertype:"string" example:"Hello, world!" minLength:"1" maxLength:"280"`
} //	@name	TweetRequest

type tweetResponse struct {
	ID        int64     `json:"id" example:"42" minimum:"1" validate:"required"`
	Text      string    `json:"text" example:"Hello, world!" minLength:"1" validate:"required"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z" format:"date-time" validate:"required"`
	UpdatedAt time.Time `json:"updated_at" example:"2026-11-26T18:30:00.123456Z" format:"date-time" validate:"required"`
	// The author, or null when the tweet is anonymous.
	User *struct{ authorFields } `json:"user" extensions:"x-nullable" validate:"required"`
} //	@name	Tweet

// authorResponse is tweetResponse.User. The field spells out an unnamed
// struct because swag writes one inline, where x-nullable works: beside a
// $ref or allOf most validators ignore it.
type authorResponse = struct{ authorFields }

// authorFields are a tweet's author as a response shows it.
type authorFields struct {
	ID       int64  `json:"id" example:"7" minimum:"1" validate:"required"`
	Username string `json:"username" example:"ada_lovelace" minLength:"1" validate:"required"`
}

// newTweetResponse is the documented shape of a tweet, the one encoded,
// for one tweet and for lists alike. Its author, if any, is written to
// author, so that a list can allocate all its authors at once.
func newTweetResponse(t twitter.Tweet, author *authorResponse) tweetResponse {
	r := tweetResponse{ID: t.ID, Text: t.Text, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.Author != nil {
		*author = authorResponse{authorFields{ID: t.Author.ID, Username: t.Author.Username}}
		r.User = author
	}
	return r
}

// sendTweet writes one tweet with status.
func sendTweet(c *fiber.Ctx, status int, t twitter.Tweet) error {
	return c.Status(status).JSON(newTweetResponse(t, new(authorResponse)))
}

// listBuffer holds a list response's tweets and authors between requests:
// allocated afresh they were much of a list's garbage, and the collections
// it drives showed in the list's p99 (docs/performance.md).
type listBuffer struct {
	tweets  []tweetResponse
	authors []authorResponse
}

var listBuffers = sync.Pool{New: func() any { return new(listBuffer) }}

// sendTweets writes a JSON array of tweets: [] when there are none.
func sendTweets(c *fiber.Ctx, ts []twitter.Tweet) error {
	b := listBuffers.Get().(*listBuffer)
	defer listBuffers.Put(b)
	b.tweets = slices.Grow(b.tweets[:0], len(ts))[:len(ts)]
	b.authors = slices.Grow(b.authors[:0], len(ts))[:len(ts)]
	for i, t := range ts {
		b.tweets[i] = newTweetResponse(t, &b.authors[i])
	}
	// Encoded straight into the response's pooled buffer: c.JSON would
	// allocate a page's whole JSON a request (docs/performance.md).
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return json.MarshalWrite(c.Response().BodyWriter(), b.tweets, encodeOptions)
}

// userRequest is the body of POST /users.
type userRequest struct {
	// 3 to 30 letters A-Z, digits or underscores; unique ignoring case.
	Username jsonString `json:"username" swaggertype:"string" example:"ada_lovelace" minLength:"3" maxLength:"30"`
	// A plain address; unique ignoring case, compared and stored in NFC.
	Email jsonString `json:"email" swaggertype:"string" example:"ada@example.com" maxLength:"254"`
} //	@name	UserRequest

// createdUserResponse is shown once, on creation: it holds the API key.
type createdUserResponse struct {
	ID        int64     `json:"id" example:"7" minimum:"1" validate:"required"`
	Username  string    `json:"username" example:"ada_lovelace" minLength:"1" validate:"required"`
	Email     string    `json:"email" example:"ada@example.com" minLength:"1" validate:"required"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z" format:"date-time" validate:"required"`
	// Shown only in this response; store it, it cannot be recovered.
	APIKey string `json:"api_key" example:"tw_3q2-7vXfJ0mY1c9Zk8Qe5nP4sR6tU0wA2bD4fH6jL8n" minLength:"1" validate:"required"`
} //	@name	CreatedUser

// keyRequest is the optional body of POST /users/{id}/keys.
type keyRequest struct {
	// What happens to the user's other keys: "overlap" (the default) keeps
	// them working for the overlap, "revoke" ends them at once.
	PreviousKeys jsonString `json:"previous_keys" swaggertype:"string" enums:"overlap,revoke" example:"overlap"`
} //	@name	KeyRequest

// createdKeyResponse is shown once, on issue: it holds the new API key.
type createdKeyResponse struct {
	UserID int64 `json:"user_id" example:"7" minimum:"1" validate:"required"`
	// Shown only in this response; store it, it cannot be recovered.
	APIKey    string    `json:"api_key" example:"tw_3q2-7vXfJ0mY1c9Zk8Qe5nP4sR6tU0wA2bD4fH6jL8n" minLength:"1" validate:"required"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z" format:"date-time" validate:"required"`
	// When the user's other keys stop working: created_at itself when they
	// were revoked.
	PreviousKeysExpireAt time.Time `json:"previous_keys_expire_at" example:"2026-11-27T18:30:00.123456Z" format:"date-time" validate:"required"`
} //	@name	CreatedKey

// userResponse is a user's public profile.
type userResponse struct {
	ID        int64     `json:"id" example:"7" minimum:"1" validate:"required"`
	Username  string    `json:"username" example:"ada_lovelace" minLength:"1" validate:"required"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z" format:"date-time" validate:"required"`
} //	@name	User

type healthResponse struct {
	Status    string `json:"status" example:"ok" minLength:"1" validate:"required"`
	Version   string `json:"version" example:"v1.0.0" minLength:"1" validate:"required"`
	StartedAt string `json:"started_at" example:"2026-11-26T18:30:00.123Z" format:"date-time" validate:"required"`
} //	@name	Health

type readyResponse struct {
	Status string `json:"status" example:"ready" minLength:"1" validate:"required"`
} //	@name	Ready
