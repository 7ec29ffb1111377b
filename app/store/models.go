package store

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/twitter"
)

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID        int64     `bun:"id,pk,autoincrement"`
	Username  string    `bun:"username,notnull"`
	Email     string    `bun:"email,notnull"`
	CreatedAt time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
}

func (r *userRow) domain() twitter.User {
	return twitter.User{ID: r.ID, Username: r.Username, Email: r.Email, CreatedAt: r.CreatedAt.UTC()}
}

// apiKeyRow is a key of a user: the current one (ExpiresAt nil) or a
// previous one until it expires.
type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys,alias:k"`

	ID        int64      `bun:"id,pk,autoincrement"`
	UserID    int64      `bun:"user_id,notnull"`
	Hash      []byte     `bun:"hash,notnull"`
	CreatedAt time.Time  `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	ExpiresAt *time.Time `bun:"expires_at"`
}
