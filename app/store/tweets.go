package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Tweets stores tweets.
type Tweets struct{ db *DB }

// NewTweets returns the tweet store over db.
func NewTweets(db *DB) *Tweets { return &Tweets{db: db} }

// Every statement that returns tweets selects tweetColumns from a tweets
// row t joined with joinAuthor, and scanTweet reads them: a new field of a
// tweet, a count for instance, is an expression here and a destination there.
const (
	tweetColumns = `t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username`
	joinAuthor   = ` LEFT JOIN users u ON u.id = t.user_id`
)

// scanTweet reads one row of tweetColumns.
func scanTweet(row interface{ Scan(dest ...any) error }) (twitter.Tweet, error) {
	var (
		t        twitter.Tweet
		authorID *int64
		username *string
	)
	if err := row.Scan(&t.ID, &t.Text, &authorID, &t.CreatedAt, &t.UpdatedAt, &username); err != nil {
		return twitter.Tweet{}, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if authorID != nil && username != nil {
		t.Author = &twitter.Author{ID: *authorID, Username: *username}
	}
	return t, nil
}

// Create stores a tweet by author (nil for anonymous) and returns it.
func (s *Tweets) Create(ctx context.Context, text string, author *twitter.User) (twitter.Tweet, error) {
	t, err := scanTweet(s.db.queryRow(ctx, insertTweetSQL, text, actorID(author)))
	if err != nil {
		return twitter.Tweet{}, mapErr("insert tweet", err, constraints{
			// The author was deleted after authenticating: the key
			// belongs to nobody any more.
			"tweets_user_id_fkey": twitter.ErrUnknownAPIKey,
		})
	}
	return t, nil
}

// Get returns the tweet with id.
func (s *Tweets) Get(ctx context.Context, id int64) (twitter.Tweet, error) {
	t, err := scanTweet(s.db.queryRow(ctx, getTweetSQL, id))
	if err != nil {
		return twitter.Tweet{}, mapErr("select tweet", err, nil)
	}
	return t, nil
}

// List returns a page of all tweets in list order (see list), and whether
// more follow.
func (s *Tweets) List(ctx context.Context, page twitter.Page) ([]twitter.Tweet, bool, error) {
	return s.list(ctx, page, nil)
}

// ListByUser returns a page of userID's tweets in list order (see list), and
// whether more follow; twitter.ErrNotFound when there is no such user.
func (s *Tweets) ListByUser(ctx context.Context, userID int64, page twitter.Page) ([]twitter.Tweet, bool, error) {
	list, more, err := s.list(ctx, page, &userID)
	if err != nil || len(list) > 0 {
		return list, more, err
	}
	// Only an empty page asks whether the user exists: a page with tweets
	// already proves it, and costs one statement instead of two.
	exists, err := s.db.NewSelect().Model((*userRow)(nil)).Where("id = ?", userID).Exists(ctx)
	if err != nil {
		return nil, false, mapErr("select user", err, nil)
	}
	if !exists {
		return nil, false, fmt.Errorf("select user %d: %w", userID, twitter.ErrNotFound)
	}
	return list, more, nil
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
	if err := page.Validate(); err != nil { // a zero limit would size the buffer and query wrongly
		return nil, false, fmt.Errorf("select tweets: %w", err)
	}
	q := s.db.NewSelect().ColumnExpr(tweetColumns).TableExpr("tweets AS t" + joinAuthor).
		Where("t.xid < " + horizon).
		OrderExpr("t.xid ASC, t.id ASC").
		Limit(int64(page.Limit) + 1) // one extra row tells whether another page exists
	if page.AfterID > 0 {
		q = q.Where("(t.xid, t.id) > "+afterPosition, page.AfterID)
	}
	if userID != nil {
		q = q.Where("t.user_id = ?", *userID)
	}
	list, err := scanTweets(ctx, q, page.Limit+1)
	if err != nil {
		return nil, false, mapErr("select tweets", err, nil)
	}
	more := len(list) > page.Limit
	if more {
		list = list[:page.Limit]
	}
	return list, more, nil
}

// scanTweets runs q, a select of tweetColumns, and scans up to max rows in
// order, without Bun's per-column reflection: a page of up to 200 tweets is
// the heaviest read the API serves.
func scanTweets(ctx context.Context, q *bun.SelectQuery, max int) ([]twitter.Tweet, error) {
	rows, err := q.Rows(ctx)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := make([]twitter.Tweet, 0, max)
	for rows.Next() {
		t, err := scanTweet(rows)
		if err != nil {
			return nil, err
		}
		list = append(list, t)
	}
	return list, rows.Err()
}

// Update replaces the text of tweet id if actor may change it.
func (s *Tweets) Update(ctx context.Context, id int64, text string, actor *twitter.User) (twitter.Tweet, error) {
	for range maxAttempts {
		// One statement: ownership is part of the WHERE clause, so no lock
		// or transaction is needed for it to hold at the moment of writing.
		t, err := scanTweet(s.db.queryRow(ctx, updateTweetSQL, text, id, actorID(actor)))
		if err == nil {
			return t, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return twitter.Tweet{}, mapErr("update tweet", err, nil)
		}
		if err := s.whyUnmodifiable(ctx, id, actor); err != nil {
			return twitter.Tweet{}, fmt.Errorf("update tweet %d: %w", id, err)
		}
	}
	return twitter.Tweet{}, fmt.Errorf("update tweet %d: %w", id, errUnsettled)
}

// Delete removes tweet id if actor may change it.
func (s *Tweets) Delete(ctx context.Context, id int64, actor *twitter.User) error {
	for range maxAttempts {
		res, err := s.db.exec(ctx, deleteTweetSQL, id, actorID(actor))
		if err != nil {
			return mapErr("delete tweet", err, nil)
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			return mapErr("delete tweet", err, nil)
		}
		if err := s.whyUnmodifiable(ctx, id, actor); err != nil {
			return fmt.Errorf("delete tweet %d: %w", id, err)
		}
	}
	return fmt.Errorf("delete tweet %d: %w", id, errUnsettled)
}

// maxAttempts bounds the retries of a conditional change whose lookup found
// the tweet modifiable after all; ownership never changes through the API,
// so the second attempt settles it.
const maxAttempts = 3

var errUnsettled = errors.New("the tweet's ownership kept changing")

// The hot statements, prepared once per connection (see the package
// comment). Ownership is twitter.CanModify as a WHERE condition: anonymous
// tweets are open to everyone, others only to their author; without an
// actor $3 is NULL, which matches no author.
const (
	getTweetSQL    = `SELECT ` + tweetColumns + ` FROM tweets t` + joinAuthor + ` WHERE t.id = $1`
	insertTweetSQL = `WITH t AS (INSERT INTO tweets (text, user_id) VALUES ($1, $2) RETURNING *)
SELECT ` + tweetColumns + ` FROM t` + joinAuthor
	updateTweetSQL = `WITH t AS (UPDATE tweets SET text = $1, updated_at = clock_timestamp()
WHERE id = $2 AND (user_id IS NULL OR user_id = $3) RETURNING *)
SELECT ` + tweetColumns + ` FROM t` + joinAuthor
	deleteTweetSQL = `DELETE FROM tweets WHERE id = $1 AND (user_id IS NULL OR user_id = $2)`
	tweetOwnerSQL  = `SELECT user_id FROM tweets WHERE id = $1`
)

// actorID is the actor's id as a statement parameter: NULL for none.
func actorID(actor *twitter.User) *int64 {
	if actor == nil {
		return nil
	}
	return &actor.ID
}

// whyUnmodifiable runs after a conditional change matched nothing and tells
// apart a missing tweet (404), a missing key (401) and another author's
// tweet (403). It returns nil when the tweet has become modifiable in
// between, and the change should be tried again.
func (s *Tweets) whyUnmodifiable(ctx context.Context, id int64, actor *twitter.User) error {
	var owner *int64
	if err := s.db.queryRow(ctx, tweetOwnerSQL, id).Scan(&owner); err != nil {
		return mapErr("select tweet", err, nil)
	}
	t := twitter.Tweet{ID: id}
	if owner != nil {
		t.Author = &twitter.Author{ID: *owner}
	}
	return twitter.CanModify(t, actor)
}
