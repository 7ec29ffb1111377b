package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Tweets stores tweets.
type Tweets struct{ db *DB }

// NewTweets returns the tweet store over db.
func NewTweets(db *DB) *Tweets { return &Tweets{db: db} }

// joinAuthor joins a tweets row t with its author's row u, if any.
const joinAuthor = ` LEFT JOIN users u ON u.id = t.user_id`

// tweetRow is a tweet as the statements return it: each column of a tweets
// row t joined with joinAuthor, beside where it is scanned, in one list.
// Every statement that returns tweets selects tweetColumns, built from it,
// and scans into dest, so a new field of a tweet, a count for instance, is
// one line in columns and one in tweet. The fields are pgx's types, which
// both pgx and database/sql scan into, NULL included (a row of an empty
// list page is all NULL).
type tweetRow struct {
	id, authorID     pgtype.Int8
	text, username   pgtype.Text
	created, updated pgtype.Timestamptz
}

type column struct {
	expr string
	dest any
}

func (r *tweetRow) columns() []column {
	return []column{
		{"t.id", &r.id},
		{"t.text", &r.text},
		{"t.user_id", &r.authorID},
		{"t.created_at", &r.created},
		{"t.updated_at", &r.updated},
		{"u.username", &r.username},
	}
}

// tweetColumns is the select list of tweetRow.columns.
var tweetColumns = func() string {
	var exprs []string
	for _, c := range new(tweetRow).columns() {
		exprs = append(exprs, c.expr)
	}
	return strings.Join(exprs, ", ")
}()

// dest lists where each of tweetColumns goes, in order.
func (r *tweetRow) dest() []any {
	cols := r.columns()
	dest := make([]any, len(cols))
	for i, c := range cols {
		dest[i] = c.dest
	}
	return dest
}

// tweet is the scanned tweet, with its author and times in UTC.
func (r *tweetRow) tweet() twitter.Tweet {
	t := twitter.Tweet{ID: r.id.Int64, Text: r.text.String, CreatedAt: r.created.Time.UTC(), UpdatedAt: r.updated.Time.UTC()}
	if r.authorID.Valid && r.username.Valid {
		t.Author = &twitter.Author{ID: r.authorID.Int64, Username: r.username.String}
	}
	return t
}

// Create stores a tweet by author (nil for anonymous) and returns it, with
// its position: the author's next list shows it (see creates.go).
func (s *Tweets) Create(ctx context.Context, text string, author *twitter.User) (twitter.Tweet, error) {
	return s.db.createQueue.create(ctx, text, actorID(author))
}

// Get returns the tweet with id.
func (s *Tweets) Get(ctx context.Context, id int64) (twitter.Tweet, error) {
	var r tweetRow
	if err := s.db.scanRow(ctx, getTweetSQL, []any{id}, r.dest()...); err != nil {
		return twitter.Tweet{}, mapErr("select tweet", err, nil)
	}
	return r.tweet(), nil
}

// List returns a page of all tweets in position order.
func (s *Tweets) List(ctx context.Context, page twitter.Page) (twitter.TweetPage, error) {
	return s.db.listPage(ctx, allTweets, page)
}

// ListByUser returns a page of userID's tweets in position order;
// twitter.ErrNotFound when there is no such user.
func (s *Tweets) ListByUser(ctx context.Context, userID int64, page twitter.Page) (twitter.TweetPage, error) {
	return s.db.listOfUser(ctx, userTweets, userID, page)
}

// listColumns are tweetColumns and the position the next cursor is made of.
var listColumns = tweetColumns + `, t.position`

// listAfterPositionSQL is a page of at most $1 tweets after position $2;
// where is an extra condition on t.
func listAfterPositionSQL(where string) string {
	return `SELECT ` + listColumns + ` FROM tweets t` + joinAuthor + `
WHERE t.position > $2` + where + ` ORDER BY t.position LIMIT $1`
}

// listAfterIDSQL is a page of at most $1 tweets after the position of the
// tweet with id $2, or when it is gone, of the nearest lower id (the start
// when there is none), led by that position; it always returns a row.
func listAfterIDSQL(where string) string {
	return `SELECT a.pos, p.* FROM (SELECT coalesce((SELECT position FROM tweets
	WHERE id <= $2 AND position IS NOT NULL ORDER BY id DESC LIMIT 1), 0) AS pos) AS a
LEFT JOIN LATERAL (
	SELECT ` + listColumns + ` FROM tweets t` + joinAuthor + `
	WHERE t.position > a.pos` + where + ` ORDER BY t.position LIMIT $1) AS p ON true`
}

// The list statements ($3: the user's id).
var (
	listTweetsSQL            = listAfterPositionSQL("")
	listUserTweetsSQL        = listAfterPositionSQL(" AND t.user_id = $3")
	listTweetsAfterIDSQL     = listAfterIDSQL("")
	listUserTweetsAfterIDSQL = listAfterIDSQL(" AND t.user_id = $3")
)

// The lists in position order (docs/lists.md), sharing their cursors.
var (
	allTweets  = tweetList{query: listTweetsSQL, afterIDQuery: listTweetsAfterIDSQL}
	userTweets = tweetList{query: listUserTweetsSQL, afterIDQuery: listUserTweetsAfterIDSQL}
)

// queryTweets runs a statement that returns tweets, each followed by its
// key (a list page, or the INSERT … RETURNING of a batch of creates, whose
// key is the position) and appends its tweets to dst; keys holds each
// one's key. leadsWithStart says the statement leads with the start's key
// (listAfterIDSQL), which is then keys' only element for an empty page. It reads on the
// pool's pgx connection, which decodes each column into its typed
// destination: database/sql's Scan, through reflection, was the largest
// CPU cost of a list page (docs/performance.md).
func (db *DB) queryTweets(ctx context.Context, query string, leadsWithStart bool, dst []twitter.Tweet, args ...any) (_ []twitter.Tweet, keys []int64, err error) {
	conn, err := db.bun.DB.Conn(ctx)
	if err != nil {
		return dst, nil, err
	}
	defer conn.Close()
	keys = make([]int64, 0, cap(dst))
	err = conn.Raw(func(driverConn any) error {
		rows, err := driverConn.(*stdlib.Conn).Conn().Query(ctx, query, prepared(args...)...)
		if err != nil {
			return err
		}
		defer rows.Close()
		// One set of destinations for every row: each Scan writes every
		// column. The start's row of an empty page (leadsWithStart) is all NULL.
		var (
			r          tweetRow
			key, start pgtype.Int8
		)
		dest := append(r.dest(), &key)
		if leadsWithStart {
			dest = append([]any{&start}, dest...)
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			if !r.id.Valid {
				continue
			}
			t := r.tweet()
			dst = append(dst, t)
			keys = append(keys, key.Int64)
		}
		if leadsWithStart && len(keys) == 0 {
			keys = append(keys, start.Int64)
		}
		return rows.Err()
	})
	return dst, keys, err
}

// Update replaces the text of tweet id if actor may change it.
func (s *Tweets) Update(ctx context.Context, id int64, text string, actor *twitter.User) (twitter.Tweet, error) {
	for range maxAttempts {
		// One statement: ownership is part of the WHERE clause, so no lock
		// or transaction is needed for it to hold at the moment of writing.
		var r tweetRow
		err := s.db.scanRow(ctx, updateTweetSQL, []any{text, id, actorID(actor)}, r.dest()...)
		if err == nil {
			return r.tweet(), nil
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
var (
	getTweetSQL    = `SELECT ` + tweetColumns + ` FROM tweets t` + joinAuthor + ` WHERE t.id = $1`
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
