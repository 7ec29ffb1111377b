package store

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Tweets stores tweets.
type Tweets struct{ db *DB }

// NewTweets returns the tweet store over db.
func NewTweets(db *DB) *Tweets { return &Tweets{db: db} }

// withAuthor selects the tweet with its author's public fields.
func withAuthor(q *bun.SelectQuery) *bun.SelectQuery {
	return q.Relation("User", func(q *bun.SelectQuery) *bun.SelectQuery {
		return q.Column("id", "username")
	})
}

// Create stores a tweet by author (nil for anonymous) and returns it.
func (s *Tweets) Create(ctx context.Context, text string, author *twitter.User) (twitter.Tweet, error) {
	row := tweetRow{Text: text}
	if author != nil {
		row.UserID = &author.ID
		row.User = &userRow{ID: author.ID, Username: author.Username}
	}
	if _, err := s.db.NewInsert().Model(&row).Returning("*").Exec(ctx); err != nil {
		return twitter.Tweet{}, mapErr("insert tweet", err)
	}
	return row.domain(), nil
}

// Get returns the tweet with id.
func (s *Tweets) Get(ctx context.Context, id int64) (twitter.Tweet, error) {
	var row tweetRow
	if err := withAuthor(s.db.NewSelect().Model(&row)).Where("t.id = ?", id).Scan(ctx); err != nil {
		return twitter.Tweet{}, mapErr("select tweet", err)
	}
	return row.domain(), nil
}

// List returns a page of all tweets in id order, and whether more follow.
func (s *Tweets) List(ctx context.Context, page twitter.Page) ([]twitter.Tweet, bool, error) {
	return s.list(ctx, page, nil)
}

// ListByUser returns a page of userID's tweets in id order, and whether more
// follow; twitter.ErrNotFound when there is no such user.
func (s *Tweets) ListByUser(ctx context.Context, userID int64, page twitter.Page) ([]twitter.Tweet, bool, error) {
	if err := page.Validate(); err != nil {
		return nil, false, fmt.Errorf("select tweets: %w", err)
	}
	exists, err := s.db.NewSelect().Model((*userRow)(nil)).Where("id = ?", userID).Exists(ctx)
	if err != nil {
		return nil, false, mapErr("select user", err)
	}
	if !exists {
		return nil, false, fmt.Errorf("select user %d: %w", userID, twitter.ErrNotFound)
	}
	return s.list(ctx, page, &userID)
}

func (s *Tweets) list(ctx context.Context, page twitter.Page, userID *int64) ([]twitter.Tweet, bool, error) {
	if err := page.Validate(); err != nil { // a zero limit would size the buffer and query wrongly
		return nil, false, fmt.Errorf("select tweets: %w", err)
	}
	rows := make([]tweetRow, 0, page.Limit+1)
	q := withAuthor(s.db.NewSelect().Model(&rows)).
		Where("t.id > ?", page.AfterID).
		OrderExpr("t.id ASC").
		Limit(int64(page.Limit) + 1) // one extra row tells whether another page exists
	if userID != nil {
		q = q.Where("t.user_id = ?", *userID)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, false, mapErr("select tweets", err)
	}
	more := len(rows) > page.Limit
	if more {
		rows = rows[:page.Limit]
	}
	return tweets(rows), more, nil
}

// Update replaces the text of tweet id if actor may change it.
func (s *Tweets) Update(ctx context.Context, id int64, text string, actor *twitter.User) (twitter.Tweet, error) {
	var out twitter.Tweet
	err := s.modify(ctx, id, actor, func(ctx context.Context, tx bun.Tx, row *tweetRow) error {
		row.Text = text
		_, err := tx.NewUpdate().Model(row).
			Column("text").
			Set("updated_at = clock_timestamp()").
			WherePK().
			Returning("updated_at").
			Exec(ctx)
		out = row.domain()
		return err
	})
	if err != nil {
		return twitter.Tweet{}, mapErr("update tweet", err)
	}
	return out, nil
}

// Delete removes tweet id if actor may change it.
func (s *Tweets) Delete(ctx context.Context, id int64, actor *twitter.User) error {
	err := s.modify(ctx, id, actor, func(ctx context.Context, tx bun.Tx, row *tweetRow) error {
		_, err := tx.NewDelete().Model(row).WherePK().Exec(ctx)
		return err
	})
	return mapErr("delete tweet", err)
}

// modify locks tweet id, checks that actor may change it, and runs change
// in the same transaction, so ownership cannot change in between.
func (s *Tweets) modify(ctx context.Context, id int64, actor *twitter.User,
	change func(context.Context, bun.Tx, *tweetRow) error,
) error {
	return s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var row tweetRow
		err := withAuthor(tx.NewSelect().Model(&row)).Where("t.id = ?", id).For("UPDATE OF t").Scan(ctx)
		if err != nil {
			return err
		}
		if err := twitter.CanModify(row.domain(), actor); err != nil {
			return err
		}
		return change(ctx, tx, &row)
	})
}
