package store

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// IdempotencyTTL is how long an Idempotency-Key's answer is kept: a retry
// within it gets the first answer, and after it the key is free again.
const IdempotencyTTL = 24 * time.Hour

// Idempotency keeps the answers of creates sent with an Idempotency-Key
// (docs/reliability-and-security.md). A record is found by a hash of the
// key and its scope; the answer is stored encrypted under a key derived
// from the Idempotency-Key, which only the client holds: a copy of the
// database holds no API key that a POST /users returned.
type Idempotency struct{ db *DB }

// NewIdempotency returns the idempotency store over db.
func NewIdempotency(db *DB) *Idempotency { return &Idempotency{db: db} }

// claimSQL inserts a record with no answer yet, or takes over one that has
// expired; it returns a row only when it did.
const claimSQL = `INSERT INTO idempotency_keys AS i (key_hash, user_id, fingerprint, expires_at)
VALUES ($1, $2, $3, now() + $4 * interval '1 microsecond')
ON CONFLICT (key_hash) DO UPDATE SET user_id = excluded.user_id, fingerprint = excluded.fingerprint,
	status = NULL, location = NULL, body = NULL, expires_at = excluded.expires_at
WHERE i.expires_at <= now()
RETURNING true`

const (
	claimedSQL = `SELECT fingerprint, status, location, body FROM idempotency_keys WHERE key_hash = $1 AND expires_at > now()`
	keepSQL    = `UPDATE idempotency_keys SET status = $2, location = $3, body = $4 WHERE key_hash = $1 AND status IS NULL`
	releaseSQL = `DELETE FROM idempotency_keys WHERE key_hash = $1 AND status IS NULL`
	expiredSQL = `DELETE FROM idempotency_keys WHERE expires_at <= now()`
)

// Claim reserves k, or returns the answer its first request got.
func (s *Idempotency) Claim(ctx context.Context, k twitter.IdempotencyKey) (*twitter.Answer, error) {
	id := recordHash(k)
	// A record released or expired between the two statements is claimed
	// on the next round; a third round finding neither is a busy key.
	for range 3 {
		var claimed bool
		err := s.db.queryRow(ctx, claimSQL, id, k.UserID, k.Fingerprint, IdempotencyTTL.Microseconds()).Scan(&claimed)
		if err == nil {
			return nil, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, mapErr("claim idempotency key", err, nil)
		}
		var (
			fingerprint, body []byte
			status            *int
			location          *string
		)
		err = s.db.queryRow(ctx, claimedSQL, id).Scan(&fingerprint, &status, &location, &body)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, mapErr("select idempotency key", err, nil)
		}
		switch {
		case string(fingerprint) != string(k.Fingerprint):
			return nil, twitter.ErrIdempotencyKeyReused
		case status == nil:
			return nil, twitter.ErrIdempotencyKeyInUse
		}
		plain, err := openAnswer(k, body)
		if err != nil {
			return nil, err
		}
		a := &twitter.Answer{Status: *status, Body: plain}
		if location != nil {
			a.Location = *location
		}
		return a, nil
	}
	return nil, twitter.ErrIdempotencyKeyInUse
}

// Keep records a, the answer of the request that claimed k.
func (s *Idempotency) Keep(ctx context.Context, k twitter.IdempotencyKey, a twitter.Answer) error {
	sealed, err := sealAnswer(k, a.Body)
	if err != nil {
		return err
	}
	var location *string
	if a.Location != "" {
		location = &a.Location
	}
	_, err = s.db.exec(ctx, keepSQL, recordHash(k), a.Status, location, sealed)
	return mapErr("keep idempotency answer", err, nil)
}

// Release deletes the record of k while it has no answer.
func (s *Idempotency) Release(ctx context.Context, k twitter.IdempotencyKey) error {
	_, err := s.db.exec(ctx, releaseSQL, recordHash(k))
	return mapErr("release idempotency key", err, nil)
}

// DeleteExpiredIdempotencyKeys deletes the records past IdempotencyTTL.
func (db *DB) DeleteExpiredIdempotencyKeys(ctx context.Context) error {
	_, err := db.exec(ctx, expiredSQL)
	return mapErr("delete expired idempotency keys", err, nil)
}

// scope names whom k's key belongs to.
func scope(k twitter.IdempotencyKey) string {
	if k.UserID == nil {
		return "anonymous"
	}
	return "user " + strconv.FormatInt(*k.UserID, 10)
}

// recordHash is the record's primary key: the key never reaches the table.
func recordHash(k twitter.IdempotencyKey) []byte {
	h := sha256.Sum256([]byte("twitter-api idempotency record\x00" + scope(k) + "\x00" + k.Key))
	return h[:]
}

// answerCipher is AES-256-GCM under a key derived from k's key and scope.
func answerCipher(k twitter.IdempotencyKey) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, []byte(k.Key), nil, "twitter-api idempotency answer\x00"+scope(k), 32)
	if err != nil {
		return nil, fmt.Errorf("derive answer key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("answer cipher: %w", err)
	}
	return cipher.NewGCMWithRandomNonce(block)
}

func sealAnswer(k twitter.IdempotencyKey, body []byte) ([]byte, error) {
	aead, err := answerCipher(k)
	if err != nil {
		return nil, err
	}
	return aead.Seal(nil, nil, body, nil), nil
}

func openAnswer(k twitter.IdempotencyKey, sealed []byte) ([]byte, error) {
	aead, err := answerCipher(k)
	if err != nil {
		return nil, err
	}
	body, err := aead.Open(nil, nil, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("open idempotency answer: %w", err)
	}
	return body, nil
}
