package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// A tweetList is a list of tweets served a page at a time in the order of a
// key: one bigint that no two of its rows share and that is never negative
// (a tweet's position, an identity column). A new list is one of these and
// a method that calls listPage or listOfUser (docs/adding-a-resource.md).
type tweetList struct {
	// name makes the list's cursors its own: another list's is a 400. The
	// lists in position order share "", as a place in one is a place in
	// the others.
	name string
	// query is a page: at most $1 rows after key $2 in the list's order,
	// each selecting tweetColumns and then its key; $3… are the list's own.
	query string
	// start is the key before the first row: 0 when keys go up,
	// math.MaxInt64 when they go down.
	start int64
	// afterIDQuery, only for the lists in position order, is the page for
	// the deprecated after_id (listAfterIDSQL).
	afterIDQuery string
}

// listPage returns page of l; args are l.query's $3….
func (db *DB) listPage(ctx context.Context, l tweetList, page twitter.Page, args ...any) (twitter.TweetPage, error) {
	if err := page.Validate(); err != nil { // a zero limit would size the buffer and query wrongly
		return twitter.TweetPage{}, fmt.Errorf("select tweets: %w", err)
	}
	key, err := db.cursorKey(ctx)
	if err != nil {
		return twitter.TweetPage{}, err
	}
	query, after, byID := l.query, l.start, page.AfterID > 0 // after: the key the page starts after
	switch {
	case byID && l.afterIDQuery == "":
		return twitter.TweetPage{}, fmt.Errorf("list %q takes no after_id", l.name)
	case byID:
		query, after = l.afterIDQuery, page.AfterID
	case page.Cursor != "":
		if after, err = decodeCursor(key, l.name, page.Cursor); err != nil {
			return twitter.TweetPage{}, err
		}
	}
	args = append([]any{page.Limit + 1, after}, args...) // one extra row tells whether another page exists
	tweets, keys, err := db.queryTweets(ctx, query, byID, make([]twitter.Tweet, 0, page.Limit+1), args...)
	if err != nil {
		return twitter.TweetPage{}, mapErr("select tweets", err, nil)
	}
	listed := twitter.TweetPage{Tweets: tweets}
	if len(tweets) > page.Limit {
		listed.Tweets, listed.More, keys = tweets[:page.Limit], true, keys[:page.Limit]
	}
	if len(keys) > 0 {
		after = keys[len(keys)-1]
	}
	listed.Next = encodeCursor(key, l.name, after)
	return listed, nil
}

// listOfUser is listPage of the rows of user userID, l.query's $3;
// twitter.ErrNotFound when there is no such user.
func (db *DB) listOfUser(ctx context.Context, l tweetList, userID int64, page twitter.Page) (twitter.TweetPage, error) {
	listed, err := db.listPage(ctx, l, page, userID)
	if err != nil || len(listed.Tweets) > 0 {
		return listed, err
	}
	// Only an empty page asks whether the user exists: a page with tweets
	// already proves it, and costs one statement instead of two.
	exists, err := db.bun.NewSelect().Model((*userRow)(nil)).Where("id = ?", userID).Exists(ctx)
	if err != nil {
		return twitter.TweetPage{}, mapErr("select user", err, nil)
	}
	if !exists {
		return twitter.TweetPage{}, fmt.Errorf("select user %d: %w", userID, twitter.ErrNotFound)
	}
	return listed, nil
}

// A cursor is a list's key signed with the database's cursor key
// (tweet_order.cursor_key): base64url of the key's 8 bytes and the first 16
// of HMAC-SHA256 over the list's name and them. It carries where the
// follower stands, so nothing is looked up again; the signature makes an
// altered or made-up one, or another list's, a 400, and because the key is
// data, cursors survive a dump and restore. 16 bytes of MAC are ample
// against guessing over HTTP.
const (
	cursorKeyLen = 8
	cursorMACLen = 16
)

var cursorEncoding = base64.RawURLEncoding

// cursorKey loads the key once per pool: it never changes. Every list
// reads it, so the loaded key is read without the lock.
func (db *DB) cursorKey(ctx context.Context) ([]byte, error) {
	if key := db.key.Load(); key != nil {
		return *key, nil
	}
	db.keyMu.Lock()
	defer db.keyMu.Unlock()
	if key := db.key.Load(); key != nil {
		return *key, nil
	}
	var key []byte
	if err := db.queryRow(ctx, `SELECT cursor_key FROM tweet_order`).Scan(&key); err != nil {
		return nil, mapErr("select cursor key", err, nil)
	}
	db.key.Store(&key)
	return key, nil
}

// cursorMAC signs listKey for the list named list. The name comes first
// and the key has a fixed length, so no two lists' inputs coincide; the
// lists named "" sign exactly the key, as cursors did before lists had names.
func cursorMAC(key []byte, list string, listKey []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(list))
	m.Write(listKey)
	return m.Sum(nil)[:cursorMACLen]
}

func encodeCursor(key []byte, list string, listKey int64) string {
	b := make([]byte, cursorKeyLen, cursorKeyLen+cursorMACLen)
	binary.BigEndian.PutUint64(b, uint64(listKey))
	return cursorEncoding.EncodeToString(append(b, cursorMAC(key, list, b)...))
}

// decodeCursor returns the key in s, a cursor of the list named list, or
// twitter.ErrBadCursor.
func decodeCursor(key []byte, list, s string) (int64, error) {
	if cursorEncoding.EncodedLen(cursorKeyLen+cursorMACLen) != len(s) {
		return 0, fmt.Errorf("cursor of %d characters: %w", len(s), twitter.ErrBadCursor)
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("cursor: %w", twitter.ErrBadCursor)
	}
	listKey, mac := b[:cursorKeyLen], b[cursorKeyLen:]
	if !hmac.Equal(mac, cursorMAC(key, list, listKey)) {
		return 0, fmt.Errorf("cursor signature: %w", twitter.ErrBadCursor)
	}
	k := int64(binary.BigEndian.Uint64(listKey))
	if k < 0 {
		return 0, fmt.Errorf("cursor key: %w", twitter.ErrBadCursor)
	}
	return k, nil
}
