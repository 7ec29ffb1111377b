package store

import (
	"context"
	"crypto/subtle"
	"fmt"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Users stores users and their API key hashes.
type Users struct{ db *DB }

// NewUsers returns the user store over db.
func NewUsers(db *DB) *Users { return &Users{db: db} }

// Create stores u with the hash of its API key; a taken username or email
// is a *twitter.ConflictError.
func (s *Users) Create(ctx context.Context, u twitter.NewUser, keyHash []byte) (twitter.User, error) {
	row := userRow{Username: u.Username, Email: u.Email, APIKeyHash: keyHash}
	if _, err := s.db.NewInsert().Model(&row).Returning("id, created_at").Exec(ctx); err != nil {
		return twitter.User{}, mapErr("insert user", err, constraints{
			"users_username_key":     &twitter.ConflictError{Field: "username"},
			"users_email_key":        &twitter.ConflictError{Field: "email"},
			"users_api_key_hash_key": &twitter.ConflictError{Field: "api_key"},
		})
	}
	return row.domain(), nil
}

// Get returns the user with id.
func (s *Users) Get(ctx context.Context, id int64) (twitter.User, error) {
	var row userRow
	if err := s.db.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx); err != nil {
		return twitter.User{}, mapErr("select user", err, nil)
	}
	return row.domain(), nil
}

// AuthenticateSQL finds a key's owner in one statement, prepared once per
// connection.
const AuthenticateSQL = `SELECT id, username, email, api_key_hash, created_at FROM users WHERE api_key_hash = $1`

// ByAPIKey returns the owner of key; twitter.ErrUnknownAPIKey when there is none.
func (s *Users) ByAPIKey(ctx context.Context, key string) (twitter.User, error) {
	if !twitter.WellFormedAPIKey(key) {
		return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
	}
	hash := twitter.HashAPIKey(key)
	var row userRow
	err := s.db.queryRow(ctx, AuthenticateSQL, hash).Scan(&row.ID, &row.Username, &row.Email, &row.APIKeyHash, &row.CreatedAt)
	if err != nil {
		err = mapErr("authenticate", err, nil)
		if isNotFound(err) {
			return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
		}
		return twitter.User{}, err
	}
	// The index found the row by hash; comparing again in constant time keeps
	// the decision itself free of timing differences.
	if subtle.ConstantTimeCompare(row.APIKeyHash, hash) != 1 {
		return twitter.User{}, fmt.Errorf("authenticate: %w", twitter.ErrUnknownAPIKey)
	}
	return row.domain(), nil
}
