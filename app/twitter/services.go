package twitter

import "context"

// Services are what the API works through, one interface a resource; the
// store implements them over PostgreSQL (store's DB.Services). A new
// resource adds its interface below and a field here.
type Services struct {
	Tweets TweetService
	Users  UserService
}

// TweetService stores tweets. Changes take the acting user, nil when
// anonymous, and refuse with ErrUnauthorized or ErrForbidden per CanModify.
type TweetService interface {
	Create(ctx context.Context, text string, author *User) (Tweet, error)
	Get(ctx context.Context, id int64) (Tweet, error)
	// List and ListByUser return a page and whether more follow.
	List(ctx context.Context, page Page) ([]Tweet, bool, error)
	ListByUser(ctx context.Context, userID int64, page Page) ([]Tweet, bool, error)
	Update(ctx context.Context, id int64, text string, actor *User) (Tweet, error)
	Delete(ctx context.Context, id int64, actor *User) error
}

// UserService stores users and finds them by API key.
type UserService interface {
	Create(ctx context.Context, u NewUser, keyHash []byte) (User, error)
	Get(ctx context.Context, id int64) (User, error)
	// ByAPIKey returns the key's owner; ErrUnknownAPIKey when there is none.
	ByAPIKey(ctx context.Context, key string) (User, error)
}
