// Package testdb gives test suites real PostgreSQL databases: a migrated
// template per suite, cloned into one database per parallel Ginkgo process.
// TEST_DATABASE_URL names a server and a role allowed to create databases.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/twitter-api/twitter-api/app/store"
)

// EnvVar holds the admin connection URL, e.g.
// postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable
const EnvVar = "TEST_DATABASE_URL"

// AdminURL returns TEST_DATABASE_URL or explains how to set it.
func AdminURL() (string, error) {
	u := os.Getenv(EnvVar)
	if u == "" {
		return "", fmt.Errorf("%s is not set: point it at a PostgreSQL server whose user may create databases, "+
			"e.g. postgres://postgres:postgres@127.0.0.1:5432/postgres?sslmode=disable, or run `make test`", EnvVar)
	}
	return u, nil
}

// WithDatabase returns dsn with its database name replaced by name.
func WithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%s must be a postgres:// URL", EnvVar)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// UniqueName returns prefix plus a random suffix, a valid database name.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// CreateEmpty creates database name with no tables.
func CreateEmpty(ctx context.Context, adminURL, name string) error {
	return admin(ctx, adminURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// CreateTemplate creates database name and applies every migration to it.
func CreateTemplate(ctx context.Context, adminURL, name string) error {
	if err := CreateEmpty(ctx, adminURL, name); err != nil {
		return err
	}
	dsn, err := WithDatabase(adminURL, name)
	if err != nil {
		return err
	}
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 2, MaxIdleConns: 0})
	if err != nil {
		return err
	}
	// Closed before cloning: PostgreSQL refuses to copy a database in use.
	defer db.Close()
	m, err := db.Migrator()
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	return err
}

// Clone creates database name as a copy of template and returns its URL.
func Clone(ctx context.Context, adminURL, template, name string) (string, error) {
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize() + " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		err = admin(ctx, adminURL, stmt)
		var pgErr *pgconn.PgError
		// 55006: another process is copying the template this instant.
		if !errors.As(err, &pgErr) || pgErr.Code != "55006" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return "", err
	}
	return WithDatabase(adminURL, name)
}

// drop removes database name, disconnecting anyone still using it.
func drop(ctx context.Context, adminURL, name string) error {
	return admin(ctx, adminURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// DisposableVar names the variable that, set to 1, says the server is
// thrown away after the run, as make test's is: Discard then leaves
// databases in place, because every DROP DATABASE waits for a checkpoint,
// which takes seconds on a busy server.
const DisposableVar = "TEST_DATABASE_DISPOSABLE"

// Discard drops database name when it is done with, unless the server is
// disposable.
func Discard(ctx context.Context, adminURL, name string) error {
	if os.Getenv(DisposableVar) == "1" {
		return nil
	}
	return drop(ctx, adminURL, name)
}

// truncateAll empties every table of the public schema the migrations made,
// whatever they are, in one round trip; the migrator's own tables keep the
// record of what is applied. tweet_order is the one row the migrations
// seed: it keeps its cursor key, which pools cache, and its high-water
// mark starts again from 0.
const truncateAll = `DO $$
DECLARE tables text;
BEGIN
	SELECT string_agg(format('%I.%I', schemaname, tablename), ', ') INTO tables
	FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'bun\_migration%'
		AND tablename <> 'tweet_order';
	IF tables IS NOT NULL THEN
		EXECUTE 'TRUNCATE ' || tables || ' RESTART IDENTITY CASCADE';
	END IF;
	IF to_regclass('tweet_order') IS NOT NULL THEN
		UPDATE tweet_order SET last_position = 0;
	END IF;
END $$`

// Truncate empties every table and restarts their id sequences. The tables
// come from the catalog, so a new migration needs no edit here.
func Truncate(ctx context.Context, s *SQL) error { return s.Exec(ctx, truncateAll) }

func admin(ctx context.Context, adminURL, stmt string) error {
	conn, err := connectAdmin(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", EnvVar, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// serverStartWait is how long connecting waits for a server that is still
// starting: make test starts the suites and PostgreSQL at the same time.
const serverStartWait = time.Minute

// connectAdmin connects to the server at adminURL, trying again while it
// does not answer yet or says it is starting up; any answer from a running
// server (a wrong password, say) is final.
func connectAdmin(ctx context.Context, adminURL string) (*pgx.Conn, error) {
	deadline := time.Now().Add(serverStartWait)
	for {
		conn, err := pgx.Connect(ctx, adminURL)
		var pgErr *pgconn.PgError
		starting := err != nil && (!errors.As(err, &pgErr) || pgErr.Code == "57P03") // cannot_connect_now
		if !starting || ctx.Err() != nil || time.Now().After(deadline) {
			return conn, err
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}
