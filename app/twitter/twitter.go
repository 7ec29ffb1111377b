// Package twitter is the domain: tweets, users, their rules and the errors
// every other package speaks. It imports neither Fiber nor Bun.
package twitter

import "time"

// Tweet is a short public message, optionally written by a User.
type Tweet struct {
	ID        int64
	Text      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// Author is nil for anonymous tweets, which anyone may change.
	Author *Author
}

// Author is the public part of a User shown with a tweet.
type Author struct {
	ID       int64
	Username string
}

// User is an account; it authenticates with an API key that is stored only
// as a hash.
type User struct {
	ID        int64
	Username  string
	Email     string
	CreatedAt time.Time
}

// KeyRotation is the outcome of issuing a new API key.
type KeyRotation struct {
	// CreatedAt is when the new key was stored.
	CreatedAt time.Time
	// PreviousExpireAt is when every earlier key of the user stops
	// working: CreatedAt itself when they were revoked at once.
	PreviousExpireAt time.Time
}

// NewUser is what a client supplies to create a user.
type NewUser struct {
	Username string
	Email    string
}

// Page selects a slice of a list: at most Limit items after Cursor, an
// opaque token from a previous page's Next ("" for the start). Lists of
// tweets are in the order tweets became final, which is id order except
// where transactions overlapped; see the store.
type Page struct {
	Cursor string
	// AfterID, deprecated, starts after the tweet with this id instead of
	// Cursor; when that tweet is gone, after the nearest lower id still
	// there, which can skip tweets that became final out of id order.
	AfterID int64
	Limit   int
}

// TweetPage is one page of a list of tweets.
type TweetPage struct {
	Tweets []Tweet
	// More reports whether more tweets follow already.
	More bool
	// Next is the cursor after the page's last tweet (after the page's
	// start when it is empty): the next page, or a later poll for new
	// tweets, continues from it. Deleting or changing a tweet never moves it.
	Next string
}

// Pagination bounds.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// CanModify reports whether actor may change or delete t: tweets without an
// author are open to everyone, others only to their author.
func CanModify(t Tweet, actor *User) error {
	if t.Author == nil {
		return nil
	}
	if actor == nil {
		return ErrUnauthorized
	}
	if actor.ID != t.Author.ID {
		return ErrForbidden
	}
	return nil
}

// CanManage reports whether actor may manage the account id (its API keys,
// its deletion): only the user itself may.
func CanManage(actor *User, id int64) error {
	if actor == nil {
		return ErrUnauthorized
	}
	if actor.ID != id {
		return ErrForbidden
	}
	return nil
}
