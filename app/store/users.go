package store

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Users stores users and their API key hashes.
type Users struct{ db *DB }

// NewUsers returns the user store over db.
func NewUsers(db *DB) *Users { return &Users{db: db} }

// createUserSQL inserts a user and its first key in one statement. The hash
// goes into users.api_key_hash too, for the version before api_keys, which
// may still serve during a rollout (see that migration).
const createUserSQL = `WITH u AS (
	INSERT INTO users (username, email, api_key_hash) VALUES (?, ?, ?) RETURNING id, created_at
), k AS (
	INSERT INTO api_keys (user_id, hash, created_at) SELECT id, ?, created_at FROM u
)
SELECT id, created_at FROM u`

// Create stores u with the hash of its API key; a taken username or email
// is a *twitter.ConflictError.
func (s *Users) Create(ctx context.Context, u twitter.NewUser, keyHash []byte) (twitter.User, error) {
	row := userRow{Username: u.Username, Email: u.Email}
	err := s.db.bun.NewRaw(createUserSQL, u.Username, u.Email, keyHash, keyHash).Scan(ctx, &row.ID, &row.CreatedAt)
	if err != nil {
		return twitter.User{}, mapErr("insert user", err, constraints{
			"users_username_key":     &twitter.ConflictError{Field: "username"},
			"users_email_key":        &twitter.ConflictError{Field: "email"},
			"users_api_key_hash_key": &twitter.ConflictError{Field: "api_key"},
			"api_keys_hash_key":      &twitter.ConflictError{Field: "api_key"},
		})
	}
	return row.domain(), nil
}

// Get returns the user with id.
func (s *Users) Get(ctx context.Context, id int64) (twitter.User, error) {
	var row userRow
	if err := s.db.bun.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return twitter.User{}, mapErr("select user", err, nil)
	}
	return row.domain(), nil
}

// authenticateSQL finds the owner of a valid key in one statement, prepared
// once per connection: the current key, or a previous one before it expires.
const authenticateSQL = `SELECT u.id, u.username, u.email, k.hash, u.created_at
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`

// ByAPIKey returns the owner of key; twitter.ErrUnknownAPIKey when there is
// none or the key has expired.
func (s *Users) ByAPIKey(ctx context.Context, key string) (twitter.User, error) {
	if !twitter.WellFormedAPIKey(key) {
		return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
	}
	hash := twitter.HashAPIKey(key)
	var row userRow
	var stored []byte
	err := s.db.scanRow(ctx, authenticateSQL, []any{hash}, &row.ID, &row.Username, &row.Email, &stored, &row.CreatedAt)
	if err != nil {
		err = mapErr("authenticate", err, nil)
		if isNotFound(err) {
			return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
		}
		return twitter.User{}, err
	}
	// The index found the row by hash; comparing again in constant time keeps
	// the decision itself free of timing differences.
	if subtle.ConstantTimeCompare(stored, hash) != 1 {
		return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
	}
	return row.domain(), nil
}

// MaxLiveKeys bounds the keys a user holds at once: the current one and
// the newest previous ones still in their overlap. A rotation beyond it
// ends the oldest previous keys at once, so rotations cannot pile up keys,
// and each one works on a handful of rows however many came before.
const MaxLiveKeys = 5

// RotateKey makes newHash the current key of user id, for the holder of its
// current key. The other keys expire after overlap (keeping an earlier
// expiry), or are deleted at once when overlap is 0; keys already expired,
// and previous keys beyond MaxLiveKeys, are deleted. The previous version's
// copy in users.api_key_hash is cleared, so it accepts no key that ends here.
func (s *Users) RotateKey(ctx context.Context, id int64, key string, newHash []byte, overlap time.Duration) (twitter.KeyRotation, error) {
	var rot twitter.KeyRotation
	err := s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockCurrentKey(ctx, tx, id, key); err != nil {
			return err
		}
		gone := tx.NewDelete().Model((*apiKeyRow)(nil)).Where("user_id = ?", id)
		if overlap > 0 {
			// The current key stays, as a previous one; so do the newest
			// previous ones, with it and the new key within MaxLiveKeys.
			kept := tx.NewSelect().Model((*apiKeyRow)(nil)).Column("id").
				Where("user_id = ?", id).Where("expires_at > now()").OrderExpr("id DESC").Limit(MaxLiveKeys - 2)
			gone = gone.Where("expires_at IS NOT NULL").Where("id NOT IN (?)", kept)
		}
		if _, err := gone.Exec(ctx); err != nil {
			return mapErr("delete keys", err, nil)
		}
		// Only the keys whose expiry changes: the current one, and any
		// that would outlive the new overlap (a shorter API_KEY_OVERLAP).
		if _, err := tx.NewUpdate().Model((*apiKeyRow)(nil)).
			Set("expires_at = now() + ? * interval '1 microsecond'", overlap.Microseconds()).
			Where("user_id = ?", id).
			Where("expires_at IS NULL OR expires_at > now() + ? * interval '1 microsecond'", overlap.Microseconds()).
			Exec(ctx); err != nil {
			return mapErr("expire keys", err, nil)
		}
		err := tx.NewInsert().Model(&apiKeyRow{UserID: id, Hash: newHash}).
			Returning("created_at, created_at + ? * interval '1 microsecond'", max(overlap, 0).Microseconds()).
			Scan(ctx, &rot.CreatedAt, &rot.PreviousExpireAt)
		if err != nil {
			return mapErr("insert key", err, constraints{"api_keys_hash_key": &twitter.ConflictError{Field: "api_key"}})
		}
		if _, err := tx.NewUpdate().Model((*userRow)(nil)).Set("api_key_hash = NULL").
			Where("id = ?", id).Where("api_key_hash IS NOT NULL").Exec(ctx); err != nil {
			return mapErr("clear previous key", err, nil)
		}
		return nil
	})
	if err != nil {
		return twitter.KeyRotation{}, fmt.Errorf("rotate key of user %d: %w", id, err)
	}
	rot.CreatedAt, rot.PreviousExpireAt = rot.CreatedAt.UTC(), rot.PreviousExpireAt.UTC()
	return rot, nil
}

// RevokeKey deletes key, a previous key of user id.
func (s *Users) RevokeKey(ctx context.Context, id int64, key string) error {
	err := s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		var current bool
		if err := s.lockValidKey(ctx, tx, id, key, &current); err != nil {
			return err
		}
		if current {
			return twitter.ErrCurrentKey
		}
		_, err := tx.NewDelete().Model((*apiKeyRow)(nil)).
			Where("user_id = ?", id).Where("hash = ?", twitter.HashAPIKey(key)).Exec(ctx)
		return mapErr("delete key", err, nil)
	})
	if err != nil {
		return fmt.Errorf("revoke key of user %d: %w", id, err)
	}
	return nil
}

// lockCurrentKey is lockValidKey for the account's own changes: key must
// be the current key, twitter.ErrSupersededKey when it is a previous one.
func (s *Users) lockCurrentKey(ctx context.Context, tx bun.Tx, id int64, key string) error {
	var current bool
	if err := s.lockValidKey(ctx, tx, id, key, &current); err != nil {
		return err
	}
	if !current {
		return twitter.ErrSupersededKey
	}
	return nil
}

// lockValidKey locks user id's row, then checks that key is still one of its
// valid keys, and reports in current (when not nil) whether it is the
// current one. The key was valid when the request was authenticated; a
// change committed since (a rotation that revoked it, the account deleted)
// makes it twitter.ErrUnknownAPIKey.
//
// Every key change runs in a transaction that starts here, so two at once
// cannot both see a key the other is ending: every user keeps exactly one
// current key. FOR NO KEY UPDATE does not block the foreign-key checks of
// tweets being inserted for the user.
func (s *Users) lockValidKey(ctx context.Context, tx bun.Tx, id int64, key string, current *bool) error {
	var locked int64
	err := tx.NewSelect().Model((*userRow)(nil)).Column("id").Where("id = ?", id).For("NO KEY UPDATE").Scan(ctx, &locked)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return twitter.ErrUnknownAPIKey
		}
		return mapErr("lock user", err, nil)
	}
	var isCurrent bool
	err = tx.NewSelect().Model((*apiKeyRow)(nil)).ColumnExpr("expires_at IS NULL").
		Where("user_id = ?", id).Where("hash = ?", twitter.HashAPIKey(key)).
		Where("expires_at IS NULL OR expires_at > now()").Scan(ctx, &isCurrent)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return twitter.ErrUnknownAPIKey
		}
		return mapErr("select key", err, nil)
	}
	if current != nil {
		*current = isCurrent
	}
	return nil
}

// Delete removes user id, for the holder of its current key; the foreign
// keys delete its keys and tweets.
func (s *Users) Delete(ctx context.Context, id int64, key string) error {
	err := s.db.bun.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if err := s.lockCurrentKey(ctx, tx, id, key); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*userRow)(nil)).Where("id = ?", id).Exec(ctx)
		return mapErr("delete user", err, nil)
	})
	if err != nil {
		return fmt.Errorf("delete user %d: %w", id, err)
	}
	return nil
}
