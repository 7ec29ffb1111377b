// Package store keeps tweets and users in PostgreSQL through Bun on the pgx
// driver. It is the only package that knows SQL; it speaks domain types and
// turns database errors into the domain's errors.
package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
)

// Options bound the connection pool. Queries have no deadline of their
// own: they run under the caller's context, which carries the request's.
type Options struct {
	MaxOpenConns    int
	MaxIdleConns    int
	ConnMaxLifetime time.Duration
}

// DB is a pooled connection to PostgreSQL.
type DB struct {
	*bun.DB
}

// Open prepares a pool for dsn. It does not connect: the service starts,
// and reports itself unready, while the database is down.
func Open(dsn string, opt Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > 5*time.Second {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "twitter-api"
	}
	sqldb := stdlib.OpenDB(*cfg)
	sqldb.SetMaxOpenConns(opt.MaxOpenConns)
	sqldb.SetMaxIdleConns(opt.MaxIdleConns)
	sqldb.SetConnMaxLifetime(opt.ConnMaxLifetime)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{DB: bun.NewDB(sqldb, pgdialect.New())}, nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return mapErr("ping", db.PingContext(ctx))
}

// Stats reports the pool's state, for logs and diagnostics.
func (db *DB) Stats() sql.DBStats { return db.DB.DB.Stats() }
