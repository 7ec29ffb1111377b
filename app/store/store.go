// Package store keeps tweets and users in PostgreSQL through Bun on the pgx
// driver. It is the only package that knows SQL: it speaks the domain's
// types and turns database errors into the domain's errors (errors.go).
//
// What a caller relies on:
//   - Lists are in position order, and a position a page has shown is
//     final: every tweet that becomes visible later has a higher one. A
//     cursor carries its position, so following it forward sees every
//     tweet exactly once, even when the tweet it came from is deleted.
//   - Create returns once its tweet has its position, so its author's next
//     list shows it; concurrent creates share one statement (creates.go).
//     Tweets inserted without a position (by the previous version, or by
//     hand) are listed once the sweep numbers them, within about a second
//     (positions.go).
//   - Positions, their high-water mark and the cursor key are rows, so
//     lists and cursors stay right on a restored, promoted or cut-over
//     database.
//   - Open does not connect; queries run under the caller's context, with
//     no deadline of their own.
//
// The hot statements (tweets, authentication) are constant texts prepared
// once per connection and read on the pgx connection (scanRow,
// queryTweets); Bun's statements (users) run in one round trip with
// nothing cached. Why, with what was measured: docs/performance.md. The
// order's design and the alternatives weighed: docs/lists.md.
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
	// ApplicationName names the pool's sessions in pg_stat_activity unless
	// the DSN does.
	ApplicationName string
}

// DB is the pool of connections to PostgreSQL under every store. Bun stays
// inside the package: what another package needs of the pool is a method.
type DB struct {
	bun         *bun.DB
	createQueue *createQueue
	keyMu       sync.Mutex
	key         atomic.Pointer[[]byte] // the cursor key, once loaded
}

// expiresKey holds a connection's jittered end of life in its CustomData.
const expiresKey = "store.expires"

// maxConnectTimeout bounds a connection attempt, also when DATABASE_URL's
// connect_timeout is longer or unset: unset, a database that does not
// answer would hold a connection attempt for the kernel's TCP timeout.
const maxConnectTimeout = 5 * time.Second

// Open prepares a pool for dsn. It does not connect: the service starts,
// and reports itself unready, while the database is down.
func Open(dsn string, opt Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > maxConnectTimeout {
		cfg.ConnectTimeout = maxConnectTimeout
	}
	if cfg.RuntimeParams["application_name"] == "" && opt.ApplicationName != "" {
		cfg.RuntimeParams["application_name"] = opt.ApplicationName
	}
	// Bun's statements in one round trip with nothing cached, the hot
	// constant texts prepared once per connection (docs/performance.md).
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
	db.createQueue = &createQueue{db: db}
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
// database/sql's Scan goes through driver.Value (see queryTweets).
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
