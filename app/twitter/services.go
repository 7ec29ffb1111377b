package twitter

import (
	"context"
	"time"
)

// Services are what the API works through, one interface a resource; the
// store implements them over PostgreSQL (store's DB.Services). A new
// resource adds its interface below and a field here.
type Services struct {
	Tweets      TweetService
	Users       UserService
	Idempotency IdempotencyService
}

// TweetService stores tweets. Changes take the acting user, nil when
// anonymous, and refuse with ErrUnauthorized or ErrForbidden per CanModify.
type TweetService interface {
	Create(ctx context.Context, text string, author *User) (Tweet, error)
	Get(ctx context.Context, id int64) (Tweet, error)
	// List and ListByUser return a page; ErrBadCursor when page.Cursor
	// is not one they issued.
	List(ctx context.Context, page Page) (TweetPage, error)
	ListByUser(ctx context.Context, userID int64, page Page) (TweetPage, error)
	Update(ctx context.Context, id int64, text string, actor *User) (Tweet, error)
	Delete(ctx context.Context, id int64, actor *User) error
}

// UserService stores users and their API keys and finds users by key. The
// methods that act on a user's keys or account take the key the request was
// authenticated with; the caller has checked CanManage.
type UserService interface {
	// Create stores u with keyHash as its current key.
	Create(ctx context.Context, u NewUser, keyHash []byte) (User, error)
	Get(ctx context.Context, id int64) (User, error)
	// ByAPIKey returns the key's owner; ErrUnknownAPIKey when there is none
	// or the key has expired.
	ByAPIKey(ctx context.Context, key string) (User, error)
	// RotateKey makes newHash the current key of user id, for the holder of
	// key, its current key. Every other key of the user then stops working
	// after overlap, or at once when overlap is 0. ErrSupersededKey when key
	// is a previous key, ErrUnknownAPIKey when it stopped being valid
	// meanwhile.
	RotateKey(ctx context.Context, id int64, key string, newHash []byte, overlap time.Duration) (KeyRotation, error)
	// RevokeKey ends key, a previous key of user id, at once: ErrCurrentKey
	// when it is the current one, ErrUnknownAPIKey when it is not valid.
	RevokeKey(ctx context.Context, id int64, key string) error
	// Delete removes user id with its keys and tweets, for the holder of
	// key, its current key: ErrSupersededKey when key is a previous key,
	// ErrUnknownAPIKey when it is not valid (the account deleted meanwhile
	// included).
	Delete(ctx context.Context, id int64, key string) error
}
