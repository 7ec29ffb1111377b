package httpapi

import (
	"time"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// tweetRequest is the body of POST /tweets and PATCH /tweets/{id}.
type tweetRequest struct {
	// 1 to 280 characters after trimming surrounding white space.
	Text jsonString `json:"text" swaggertype:"string" example:"Hello, world!" minLength:"1" maxLength:"280"`
} //	@name	TweetRequest

type tweetResponse struct {
	ID        int64           `json:"id" example:"42"`
	Text      string          `json:"text" example:"Hello, world!"`
	CreatedAt time.Time       `json:"created_at" example:"2026-11-26T18:30:00.123456Z"`
	UpdatedAt time.Time       `json:"updated_at" example:"2026-11-26T18:30:00.123456Z"`
	User      *authorResponse `json:"user" extensions:"x-nullable"`
} //	@name	Tweet

type authorResponse struct {
	ID       int64  `json:"id" example:"7"`
	Username string `json:"username" example:"ada_lovelace"`
} //	@name	Author

// newTweetResponse is the documented shape of a tweet; appendTweet writes
// the same bytes without building it.
func newTweetResponse(t twitter.Tweet) tweetResponse {
	r := tweetResponse{ID: t.ID, Text: t.Text, CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC()}
	if t.Author != nil {
		r.User = &authorResponse{ID: t.Author.ID, Username: t.Author.Username}
	}
	return r
}

// userRequest is the body of POST /users.
type userRequest struct {
	// 3 to 30 letters, digits or underscores; unique ignoring case.
	Username jsonString `json:"username" swaggertype:"string" example:"ada_lovelace" minLength:"3" maxLength:"30"`
	// A plain address; unique ignoring case.
	Email jsonString `json:"email" swaggertype:"string" example:"ada@example.com" maxLength:"254"`
} //	@name	UserRequest

// createdUserResponse is shown once, on creation: it holds the API key.
type createdUserResponse struct {
	ID        int64     `json:"id" example:"7"`
	Username  string    `json:"username" example:"ada_lovelace"`
	Email     string    `json:"email" example:"ada@example.com"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z"`
	// Shown only in this response; store it, it cannot be recovered.
	APIKey string `json:"api_key" example:"tw_3q2-7vXfJ0mY1c9Zk8Qe5nP4sR6tU0wA2bD4fH6jL8n"`
} //	@name	CreatedUser

// userResponse is a user's public profile.
type userResponse struct {
	ID        int64     `json:"id" example:"7"`
	Username  string    `json:"username" example:"ada_lovelace"`
	CreatedAt time.Time `json:"created_at" example:"2026-11-26T18:30:00.123456Z"`
} //	@name	User

type healthResponse struct {
	Status    string `json:"status" example:"ok"`
	Version   string `json:"version" example:"v1.0.0"`
	StartedAt string `json:"started_at" example:"2026-11-26T18:30:00.123456789Z"`
} //	@name	Health

type readyResponse struct {
	Status string `json:"status" example:"ready"`
} //	@name	Ready
