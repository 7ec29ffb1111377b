package store

import (
	"time"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/twitter"
)

type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID         int64     `bun:"id,pk,autoincrement"`
	Username   string    `bun:"username,notnull"`
	Email      string    `bun:"email,notnull"`
	APIKeyHash []byte    `bun:"api_key_hash,notnull"`
	CreatedAt  time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
}

func (r *userRow) domain() twitter.User {
	return twitter.User{ID: r.ID, Username: r.Username, Email: r.Email, CreatedAt: r.CreatedAt.UTC()}
}

type tweetRow struct {
	bun.BaseModel `bun:"table:tweets,alias:t"`

	ID        int64     `bun:"id,pk,autoincrement"`
	Text      string    `bun:"text,notnull"`
	UserID    *int64    `bun:"user_id"`
	CreatedAt time.Time `bun:"created_at,nullzero,notnull,default:current_timestamp"`
	UpdatedAt time.Time `bun:"updated_at,nullzero,notnull,default:current_timestamp"`

	User *userRow `bun:"rel:belongs-to,join:user_id=id"`
}

func (r *tweetRow) domain() twitter.Tweet {
	t := twitter.Tweet{ID: r.ID, Text: r.Text, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.User != nil && r.UserID != nil {
		t.Author = &twitter.Author{ID: r.User.ID, Username: r.User.Username}
	}
	return t
}

func tweets(rows []tweetRow) []twitter.Tweet {
	out := make([]twitter.Tweet, len(rows))
	for i := range rows {
		out[i] = rows[i].domain()
	}
	return out
}
