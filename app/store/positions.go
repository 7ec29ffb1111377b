package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// assignSQL numbers committed tweets that have no position yet: those the
// previous version inserts during a rolling update, or inserted by hand.
// See the migration tweets_positions for why one caller at a time makes
// positions final in the order they become visible.
const assignSQL = `SELECT tweets_assign_positions($1)`

// assignBatch bounds the tweets one run numbers, and so the run's time
// under the lock; a sweep that numbers a full batch runs again at once.
const assignBatch = 5000

func (db *DB) assignOnce(ctx context.Context) (int64, error) {
	var n int64
	err := db.queryRow(ctx, assignSQL, assignBatch).Scan(&n)
	return n, mapErr("assign positions", err, nil)
}

// AssignPositions numbers every committed tweet that has no position yet
// (see assignSQL) and returns how many it numbered.
func (db *DB) AssignPositions(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := db.assignOnce(ctx)
		total += n
		if err != nil || n < assignBatch {
			return total, err
		}
	}
}

// SweepPositions runs AssignPositions every interval until ctx ends,
// reporting each failure to onErr.
func (db *DB) SweepPositions(ctx context.Context, interval time.Duration, onErr func(error)) {
	every(ctx, interval, func(ctx context.Context) error {
		_, err := db.AssignPositions(ctx)
		return err
	}, onErr)
}

// SweepIdempotencyKeys runs DeleteExpiredIdempotencyKeys every interval
// until ctx ends, reporting each failure to onErr.
func (db *DB) SweepIdempotencyKeys(ctx context.Context, interval time.Duration, onErr func(error)) {
	every(ctx, interval, db.DeleteExpiredIdempotencyKeys, onErr)
}

// every runs run every interval until ctx ends, reporting each failure.
func every(ctx context.Context, interval time.Duration, run func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := run(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}

// A cursor is a list position signed with the database's cursor key
// (tweet_order.cursor_key): base64url of the position's 8 bytes and the
// first 16 of HMAC-SHA256 over them. It carries where the follower stands,
// so nothing is looked up again; the signature makes an altered or made-up
// one a 400, and because the key is data, cursors survive a dump and
// restore. 16 bytes of MAC are ample against guessing over HTTP.
const (
	cursorPosLen = 8
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

func cursorMAC(key []byte, pos []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(pos)
	return m.Sum(nil)[:cursorMACLen]
}

func encodeCursor(key []byte, position int64) string {
	b := make([]byte, cursorPosLen, cursorPosLen+cursorMACLen)
	binary.BigEndian.PutUint64(b, uint64(position))
	return cursorEncoding.EncodeToString(append(b, cursorMAC(key, b)...))
}

// decodeCursor returns the position in s, or twitter.ErrBadCursor.
func decodeCursor(key []byte, s string) (int64, error) {
	if cursorEncoding.EncodedLen(cursorPosLen+cursorMACLen) != len(s) {
		return 0, fmt.Errorf("cursor of %d characters: %w", len(s), twitter.ErrBadCursor)
	}
	b, err := cursorEncoding.DecodeString(s)
	if err != nil {
		return 0, fmt.Errorf("cursor: %w", twitter.ErrBadCursor)
	}
	pos, mac := b[:cursorPosLen], b[cursorPosLen:]
	if !hmac.Equal(mac, cursorMAC(key, pos)) {
		return 0, fmt.Errorf("cursor signature: %w", twitter.ErrBadCursor)
	}
	p := int64(binary.BigEndian.Uint64(pos))
	if p < 0 {
		return 0, fmt.Errorf("cursor position: %w", twitter.ErrBadCursor)
	}
	return p, nil
}
