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
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	row := tweetRow{Text: text}
	if author != nil {
		row.UserID = &author.ID
		row.User = &userRow{ID: author.ID, Username: author.Username}
	}
	// Not RETURNING *: the row's xid column is the list order's business only.
	if _, err := s.db.NewInsert().Model(&row).Returning("id, created_at, updated_at").Exec(ctx); err != nil {
		return twitter.Tweet{}, mapErr("insert tweet", err)
	}
	return row.domain(), nil
}

// Get returns the tweet with id.
func (s *Tweets) Get(ctx context.Context, id int64) (twitter.Tweet, error) {
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var row tweetRow
	if err := withAuthor(s.db.NewSelect().Model(&row)).Where("t.id = ?", id).Scan(ctx); err != nil {
		return twitter.Tweet{}, mapErr("select tweet", err)
	}
	return row.domain(), nil
}

// List returns a page of all tweets in list order (see list), and whether
// more follow.
func (s *Tweets) List(ctx context.Context, page twitter.Page) ([]twitter.Tweet, bool, error) {
	return s.list(ctx, page, nil)
}

// ListByUser returns a page of userID's tweets in list order (see list), and
// whether more follow; twitter.ErrNotFound when there is no such user.
func (s *Tweets) ListByUser(ctx context.Context, userID int64, page twitter.Page) ([]twitter.Tweet, bool, error) {
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	exists, err := s.db.NewSelect().Model((*userRow)(nil)).Where("id = ?", userID).Exists(ctx)
	if err != nil {
		return nil, false, mapErr("select user", err)
	}
	if !exists {
		return nil, false, fmt.Errorf("select user %d: %w", userID, twitter.ErrNotFound)
	}
	return s.list(ctx, page, &userID)
}

// Lists follow the order in which tweets become final, not plain id order.
//
// An id is drawn when a tweet is inserted, but the tweet becomes visible only
// when its transaction commits. Paging by id alone would let a reader move
// past id 11 while the transaction holding it is still open, and never return
// it. So every tweet records its inserting transaction (column xid, a
// non-wrapping xid8), lists are ordered by (xid, id), and a page shows only
// tweets whose transaction is below the visibility horizon: older than every
// transaction of this database still running when the page's statement took
// its snapshot. Nothing can ever appear below that horizon any more, so a
// cursor only moves forward and a follower sees each tweet exactly once.
//
// The price: a committed tweet is listed only once every older writing
// transaction in the database has finished, normally a few milliseconds,
// longer while a slow transaction is open (GET /tweets/{id} shows it at once).
// Transactions that cannot insert tweets do not hold the horizon back, as far
// as pg_stat_activity can tell: those of other databases on the same server,
// and autovacuum's (an autoanalyze holds a transaction id). One it cannot
// place (another role's session, a prepared transaction, one that ended
// between the snapshot and the look-up) is counted, which only delays.
//
// Everything happens in the page's one statement: the horizon and the cursor
// are init-plans, the page an index range scan on (xid, id) or
// (user_id, xid, id).

// horizon is the lowest transaction id that may still insert tweets into this
// database, per the statement's snapshot: the oldest running transaction not
// known to belong to another database or to autovacuum, else the snapshot's
// xmax.
const horizon = `(SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
	FROM pg_snapshot_xip(pg_current_snapshot()) AS x
	WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a
		WHERE a.backend_xid IS NOT NULL
		AND (a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
			OR a.backend_type = 'autovacuum worker')))`

// afterPosition is the list position of the tweet named by a cursor id: that
// tweet's (xid, id), or, when it no longer exists, that of the nearest
// existing tweet with a lower id (the start when there is none).
const afterPosition = `(SELECT coalesce(c.xid, '0'), coalesce(c.id, 0) FROM (SELECT) AS one
	LEFT JOIN LATERAL (SELECT xid, id FROM tweets WHERE id <= ? ORDER BY id DESC LIMIT 1) AS c ON true)`

func (s *Tweets) list(ctx context.Context, page twitter.Page, userID *int64) ([]twitter.Tweet, bool, error) {
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	rows := make([]tweetRow, 0, page.Limit+1)
	q := withAuthor(s.db.NewSelect().Model(&rows)).
		Where("t.xid < " + horizon).
		OrderExpr("t.xid ASC, t.id ASC").
		Limit(int64(page.Limit) + 1) // one extra row tells whether another page exists
	if page.AfterID > 0 {
		q = q.Where("(t.xid, t.id) > "+afterPosition, page.AfterID)
	}
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
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
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
