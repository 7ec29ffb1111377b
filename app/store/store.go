// Package store keeps tweets and users in PostgreSQL through Bun on the pgx
// driver. It is the only package that knows SQL; it speaks domain types and
// turns database errors into the domain's errors.
//
// Bun builds the statements on users and their keys from the models in
// models.go, and runs createUserSQL, written out because it inserts both
// rows in one statement; they run now and then. The statements on tweets
// and authentication, which most requests run, are constant texts with $n
// parameters instead, prepared once per connection for the reasons below;
// their rows are read on the pgx connection itself (scanRow, listPage).
//
// # Query mode
//
// Bun interpolates every value into the SQL text, so almost every statement
// it writes is a text the server has never seen: a new id is a new text.
// pgx's default mode (cache_statement) prepares each distinct text, which
// costs an extra round trip per new text, fills a 512-entry cache per
// connection and then deallocates one statement for each new one.
//
// So the pool's default is the exec mode: one round trip a statement
// (Parse, Bind, Describe, Execute, Sync sent together, on the unnamed
// statement), nothing cached. Measured with `make bench`, it and the simple
// protocol were within noise of each other and far ahead of cache_statement
// on random ids; exec keeps the extended protocol, which never runs one
// string as several statements.
//
// Even in one round trip, a statement PostgreSQL has not prepared is parsed
// and planned on every call, and for a lookup by key planning costs more
// than executing (EXPLAIN ANALYZE: about 0.1 ms against 0.05 ms). The hot
// statements are therefore constant texts run through prepared: pgx
// prepares each once per connection and afterwards sends only Bind and
// Execute, and PostgreSQL reuses the plan. The few texts fit a small cache.
//
// # Pool
//
// Idle equals open by default, so a burst never closes connections that the
// next burst must reopen (a new PostgreSQL backend each time). Connections
// are recycled after a jittered lifetime, so a pool opened at once does not
// reconnect at once.
//
// # List order
//
// Lists are in position order: tweets.position, drawn under the row lock of
// tweet_order, which the drawing transaction holds until it commits, above
// every position given before (migration tweets_positions). Positions
// therefore become visible in increasing order: a position a page has shown
// is final, and every later one is higher, so a cursor that only moves
// forward sees every tweet exactly once, with no horizon to wait for. A
// create inserts its tweet with its position (creates.go), so its author's
// next list shows it; tweets inserted without one (by the previous version
// during a rolling update, or by hand) are numbered by a sweep every second
// (positions.go). A cursor carries its position (positions.go), so deleting
// or changing the tweet it came from moves nothing.
//
// Positions are data: pg_dump and logical replication carry them, the
// high-water mark (tweet_order) and the cursor key, so lists and cursors
// stay right on a restored, promoted or cut-over database.
//
// # Why this design
//
// Weighed against the alternatives:
//   - Renormalising foreign transaction ids at start or migrate keeps the
//     xid scheme's costs (a horizon computed from pg_stat_activity on every
//     page, 0.65x a plain join in pgbench, lists lagging behind any long
//     transaction) and must detect a restore reliably; a missed one hides
//     tweets.
//   - A simpler horizon (pg_snapshot_xmin) is faster but still ties the
//     order to one cluster's counter, the very failure to fix.
//   - Numbering after commit (each create inserts without a position, then
//     one shared run numbers what has committed) is the simplest, and was
//     built first; but it writes each tweet twice, and make bench measured
//     POST at 0.55x the floor, p99 4x. It remains for the sweep.
//   - Drawing the position in the inserting transaction serializes the
//     commits that give positions; batching concurrent creates into one
//     statement (creates.go) makes that one commit for many tweets, which
//     is what the shipped design does.
//
// A sequence would do as the counter, but logical replication does not
// carry sequences; tweet_order's row is replicated and dumped like any
// other, and both the insert and the sweep also start above max(position),
// for a cutover that did not carry it.
//
// Each statement is a constant text, prepared once per connection; a page
// is one index range scan on position or (user_id, position). after_id,
// deprecated, finds its position from the nearest id at or below it in an
// init-plan, and leads the page with that position, so that an empty
// page still has a cursor to give.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"go.opentelemetry.io/otel/trace"

	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// Options bound the connection pool. Queries have no deadline of their
// own: they run under the caller's context, which carries the request's.
type Options struct {
	MaxOpenConns int
	// MaxIdleConns below MaxOpenConns makes the pool close and reopen
	// connections under load.
	MaxIdleConns int
	// ConnMaxLifetime recycles a connection after this long, less up to a
	// tenth at random; 0 keeps connections forever.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes a connection unused for this long; 0 never.
	ConnMaxIdleTime time.Duration
	// TracerProvider, when set, traces every statement as a child of the
	// span in its context; nil traces nothing and costs nothing.
	TracerProvider trace.TracerProvider
}

// DB is the pool of connections to PostgreSQL under every store. Bun stays
// inside the package: what another package needs of the pool is a method.
type DB struct {
	bun     *bun.DB
	creates *creates
	keyMu   sync.Mutex
	key     atomic.Pointer[[]byte] // the cursor key, once loaded
}

// expiresKey holds a connection's jittered end of life in its CustomData.
const expiresKey = "twitter-api.expires"

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
	// See the package comment: Bun's statements in one round trip with
	// nothing cached, the hot constant texts prepared once per connection.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	cfg.StatementCacheCapacity = 32
	cfg.DescriptionCacheCapacity = 0
	cfg.BuildContextWatcherHandler = newCancelHandler // see cancel.go
	if opt.TracerProvider != nil {
		cfg.Tracer = newSQLTracer(opt.TracerProvider)
	}

	var opts []stdlib.OptionOpenDB
	if life := opt.ConnMaxLifetime; life > 0 {
		opts = append(opts,
			stdlib.OptionAfterConnect(func(_ context.Context, c *pgx.Conn) error {
				jitter := time.Duration(rand.Int64N(int64(life/10) + 1))
				c.PgConn().CustomData()[expiresKey] = time.Now().Add(life - jitter)
				return nil
			}),
			// Checked before each reuse; ErrBadConn makes database/sql
			// close the connection and take another.
			stdlib.OptionResetSession(func(_ context.Context, c *pgx.Conn) error {
				if exp, ok := c.PgConn().CustomData()[expiresKey].(time.Time); ok && time.Now().After(exp) {
					return driver.ErrBadConn
				}
				return nil
			}))
	}
	sqldb := stdlib.OpenDB(*cfg, opts...)
	sqldb.SetMaxOpenConns(opt.MaxOpenConns)
	sqldb.SetMaxIdleConns(min(opt.MaxIdleConns, opt.MaxOpenConns))
	sqldb.SetConnMaxIdleTime(opt.ConnMaxIdleTime)
	db := &DB{bun: bun.NewDB(sqldb, pgdialect.New())}
	db.creates = &creates{db: db}
	return db, nil
}

// Migrator returns the schema's migrator over this pool; opts is optional.
func (db *DB) Migrator(opts ...migrations.Options) (*migrations.Migrator, error) {
	return migrations.New(db.bun, opts...)
}

// StatsCollector is a Prometheus collector of the pool's database/sql
// statistics (go_sql_*), labelled db_name=name.
func (db *DB) StatsCollector(name string) prometheus.Collector {
	return collectors.NewDBStatsCollector(db.bun.DB, name)
}

// Services returns every domain service over db.
func (db *DB) Services() twitter.Services {
	return twitter.Services{Tweets: NewTweets(db), Users: NewUsers(db), Idempotency: NewIdempotency(db)}
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return mapErr("ping", db.bun.PingContext(ctx), nil)
}

// Close closes the pool; statements running go on until they finish.
func (db *DB) Close() error { return db.bun.Close() }

// prepared returns args led by the mode that makes pgx prepare query once
// per connection and reuse it; query must be a constant text.
func prepared(args ...any) []any {
	return append([]any{pgx.QueryExecModeCacheStatement}, args...)
}

func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.bun.DB.QueryRowContext(ctx, query, prepared(args...)...)
}

func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.bun.DB.ExecContext(ctx, query, prepared(args...)...)
}

// scanRow runs query, a constant text, on the pool's pgx connection and
// scans its one row into dest; no row is sql.ErrNoRows, as from queryRow.
// pgx decodes each column straight into its typed destination, where
// database/sql's Scan goes through driver.Value (see listPage).
func (db *DB) scanRow(ctx context.Context, query string, args []any, dest ...any) error {
	conn, err := db.bun.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		return driverConn.(*stdlib.Conn).Conn().QueryRow(ctx, query, prepared(args...)...).Scan(dest...)
	})
}
