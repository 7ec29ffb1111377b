package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Tweets stores tweets.
type Tweets struct{ db *DB }

// NewTweets returns the tweet store over db.
func NewTweets(db *DB) *Tweets { return &Tweets{db: db} }

// Every statement that returns tweets (get, list, create, update) selects
// tweetColumns from a tweets row t joined with joinAuthor, and tweetScan
// reads them: a new field of a tweet, a count for instance, is an expression
// here and a destination in tweetScan.dest.
const (
	tweetColumns = `t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username`
	joinAuthor   = ` LEFT JOIN users u ON u.id = t.user_id`
)

// tweetScan receives one row of tweetColumns.
type tweetScan struct {
	twitter.Tweet
	authorID *int64
	username *string
}

// dest lists where each of tweetColumns goes, in order. Each is wrapped in
// orZero: the row of an empty list page is all NULL.
func (s *tweetScan) dest() []any {
	return []any{orZero(&s.ID), orZero(&s.Text), orZero(&s.authorID), orZero(&s.CreatedAt), orZero(&s.UpdatedAt),
		orZero(&s.username)}
}

// tweet is the scanned tweet, with its author and times in UTC.
func (s *tweetScan) tweet() twitter.Tweet {
	t := s.Tweet
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if s.authorID != nil && s.username != nil {
		t.Author = &twitter.Author{ID: *s.authorID, Username: *s.username}
	}
	return t
}

// scanTweet reads a row of tweetColumns.
func scanTweet(row interface{ Scan(dest ...any) error }) (twitter.Tweet, error) {
	var s tweetScan
	if err := row.Scan(s.dest()...); err != nil {
		return twitter.Tweet{}, err
	}
	return s.tweet(), nil
}

// orZero scans a column into *p, or the zero value when it is NULL.
func orZero[T any](p *T) sql.Scanner { return zeroOnNull[T]{p} }

type zeroOnNull[T any] struct{ p *T }

func (z zeroOnNull[T]) Scan(v any) error {
	var n sql.Null[T]
	if err := n.Scan(v); err != nil {
		return err
	}
	*z.p = n.V
	return nil
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
// place (another role's session, a prepared transaction) is counted, which
// only delays.
//
// One place remains: a transaction that ends between the page's snapshot and
// its look-up in pg_stat_activity cannot be placed any more, so it is counted
// and may cut the page short for nothing. The statement says when the
// transaction that set its horizon has ended by the time it looked; a short
// page is then read again, with a new snapshot in which that transaction is
// over (at most listAttempts times in all; a short page is still correct).
//
// Everything else happens in the page's one statement: the horizon is
// computed once, the cursor is an init-plan, and the page an index range scan
// on (xid, id) or (user_id, xid, id). The statement always returns one row,
// the horizon's, even for an empty page.

// horizonCTE is the lowest transaction id that may still insert tweets into
// this database, per the statement's snapshot: the oldest running
// transaction not known to belong to another database or to autovacuum, else
// the snapshot's xmax; and whether that transaction has ended meanwhile.
const horizonCTE = `h AS MATERIALIZED (
	SELECT coalesce(c.x, pg_snapshot_xmax(pg_current_snapshot())) AS xid,
		coalesce(pg_xact_status(c.x) <> 'in progress', false) AS ended
	FROM (SELECT min(x) AS x FROM pg_snapshot_xip(pg_current_snapshot()) AS x
		WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a
			WHERE a.backend_xid IS NOT NULL
			AND (a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
				OR a.backend_type = 'autovacuum worker'))) AS c)`

// afterPosition is the list position of the tweet named by the cursor id $2:
// that tweet's (xid, id), or, when it no longer exists, that of the nearest
// existing tweet with a lower id (the start when there is none, or $2 is 0).
const afterPosition = `(SELECT coalesce(c.xid, '0'), coalesce(c.id, 0) FROM (SELECT) AS one
	LEFT JOIN LATERAL (SELECT xid, id FROM tweets WHERE id <= $2 ORDER BY id DESC LIMIT 1) AS c ON true)`

// listPageSQL is a page of at most $1 tweets with their authors' names
// after the cursor id $2, led by whether the horizon's transaction ended;
// where is an extra condition on t.
func listPageSQL(where string) string {
	return `WITH ` + horizonCTE + `
SELECT h.ended, p.*
FROM h LEFT JOIN LATERAL (
	SELECT ` + tweetColumns + `
	FROM tweets t` + joinAuthor + `
	WHERE t.xid < h.xid AND (t.xid, t.id) > ` + afterPosition + where + `
	ORDER BY t.xid, t.id LIMIT $1) AS p ON true`
}

// listTweetsSQL and listUserTweetsSQL ($3: the user's id) are the list
// statements. devtools/floor keeps a copy of listTweetsSQL; a spec
// (floor_test.go) fails when the two differ.
var (
	listTweetsSQL     = listPageSQL("")
	listUserTweetsSQL = listPageSQL(" AND t.user_id = $3")
)

// listAttempts bounds the reads of one page (see above).
const listAttempts = 3

func (s *Tweets) list(ctx context.Context, page twitter.Page, userID *int64) ([]twitter.Tweet, bool, error) {
	if err := page.Validate(); err != nil { // a zero limit would size the buffer and query wrongly
		return nil, false, fmt.Errorf("select tweets: %w", err)
	}
	query, args := listTweetsSQL, []any{page.Limit + 1, page.AfterID} // one extra row tells whether another page exists
	if userID != nil {
		query, args = listUserTweetsSQL, append(args, *userID)
	}
	list := make([]twitter.Tweet, 0, page.Limit+1)
	for attempt := 1; ; attempt++ {
		var ended bool
		var err error
		list, ended, err = s.db.listPage(ctx, query, list[:0], args...)
		if err != nil {
			return nil, false, mapErr("select tweets", err, nil)
		}
		if len(list) > page.Limit || !ended || attempt == listAttempts {
			break
		}
	}
	more := len(list) > page.Limit
	if more {
		list = list[:page.Limit]
	}
	return list, more, nil
}

// listPage runs a list statement and appends its tweets to dst, scanning
// columns in order without Bun's per-column reflection: a page of up to 200
// tweets is the heaviest read the API serves. ended is the statement's
// leading column.
func (db *DB) listPage(ctx context.Context, query string, dst []twitter.Tweet, args ...any) (_ []twitter.Tweet, ended bool, err error) {
	rows, err := db.DB.DB.QueryContext(ctx, query, prepared(args...)...)
	if err != nil {
		return dst, false, err
	}
	defer rows.Close()
	// One set of destinations for every row: each Scan writes every column.
	var t tweetScan
	dest := append([]any{&ended}, t.dest()...)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return dst, false, err
		}
		if t.ID == 0 { // the horizon's row of an empty page: all NULL
			continue
		}
		dst = append(dst, t.tweet())
	}
	return dst, ended, rows.Err()
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
// actor $3 is NULL, which matches no author. devtools/floor runs copies of
// these, the lists' and authenticateSQL; floor_test.go keeps them equal.
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
