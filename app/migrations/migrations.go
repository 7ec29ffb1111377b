// Package migrations holds the schema as embedded SQL files and applies
// them with Bun's migrator under a PostgreSQL advisory lock, so several
// replicas may start at once without failing or applying anything twice.
package migrations

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

//go:embed *.sql
var files embed.FS

// lockKey identifies this schema's migrations among advisory locks.
const lockKey int64 = 0x7477_6974_7465_72 // "twitter"

// Table names Bun records the migration state in.
const (
	table      = "bun_migrations"
	locksTable = "bun_migration_locks"
)

// Migrator applies and rolls back the embedded migrations.
type Migrator struct {
	db         *bun.DB
	fsys       fs.FS // the migration files, read for what a rollback drops
	migrations *migrate.Migrations
	m          *migrate.Migrator
	opts       Options

	// The backend running the current migration, and the last lock it was
	// seen waiting for, so a lock timeout can say what it waited for.
	pid     atomic.Int64
	mu      sync.Mutex
	current string // the migration running
	wait    string
}

// Options bound each migration, so a migration stuck behind other sessions'
// locks fails fast instead of making all traffic queue behind its own.
type Options struct {
	// LockTimeout is PostgreSQL's lock_timeout for each migration: the
	// longest it waits for a lock, such as an ALTER TABLE's behind reads.
	LockTimeout time.Duration
	// StatementTimeout is PostgreSQL's statement_timeout for each
	// migration statement.
	StatementTimeout time.Duration

	fsys fs.FS // the migrations instead of the embedded ones; for specs
}

// Defaults for Options fields left zero.
const (
	DefaultLockTimeout      = 5 * time.Second
	DefaultStatementTimeout = time.Minute
)

// Status is one migration and whether it is applied.
type Status struct {
	Name      string
	Applied   bool
	GroupID   int64
	AppliedAt time.Time
}

// Names lists the embedded migrations, oldest first, as Up applies them.
func Names() ([]string, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(files); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	sorted := ms.Sorted()
	names := make([]string, len(sorted))
	for i, mig := range sorted {
		names[i] = fullName(mig)
	}
	return names, nil
}

// New returns a Migrator over db; opts is optional. The service's callers
// get one from store.DB.Migrator, over the store's pool.
func New(db *bun.DB, opts ...Options) (*Migrator, error) {
	mg := &Migrator{db: db, fsys: files}
	if len(opts) > 0 {
		mg.opts = opts[0]
	}
	if mg.opts.fsys != nil {
		mg.fsys = mg.opts.fsys
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(mg.fsys); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	if mg.opts.LockTimeout <= 0 {
		mg.opts.LockTimeout = DefaultLockTimeout
	}
	if mg.opts.StatementTimeout <= 0 {
		mg.opts.StatementTimeout = DefaultStatementTimeout
	}
	mg.migrations = ms
	mg.m = migrate.NewMigrator(db, ms,
		migrate.WithTableName(table),
		migrate.WithLocksTableName(locksTable),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithUpsert(true),
		migrate.BeforeMigration(mg.bound),
		// A .tx. migration runs in a transaction; recording it in that same
		// transaction means a crash can never leave it applied but unmarked.
		migrate.AfterMigration(recordInTx),
	)
	return mg, nil
}

// recordInTx marks migration applied (up) or unapplied (down) through the
// migration's own connection. Bun's later mark is then an idempotent upsert
// or a delete of nothing.
func recordInTx(ctx context.Context, conn bun.IConn, mig *migrate.Migration) error {
	db, ok := conn.(bun.IDB) // bun.Tx or bun.Conn
	if !ok {
		return fmt.Errorf("record migration %s: unexpected connection type %T", mig.Name, conn)
	}
	if mig.ID == 0 { // Migrate passes unapplied migrations, which have no row yet
		_, err := db.NewInsert().Model(mig).ModelTableExpr(table).
			On("CONFLICT (name) DO UPDATE").
			Set("group_id = EXCLUDED.group_id").
			Set("migrated_at = EXCLUDED.migrated_at").
			Exec(ctx)
		return err
	}
	_, err := db.NewDelete().Model(mig).ModelTableExpr(table).Where("id = ?", mig.ID).Exec(ctx)
	return err
}

// Up applies every pending migration and returns their names. With
// nothing pending it returns at once, without waiting for the advisory
// lock: a pod of either version starting while another applies a long
// migration is not held up by it.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	if pending, err := m.Pending(ctx); err == nil && len(pending) == 0 {
		return nil, nil
	}
	var names []string
	err := m.locked(ctx, func() error {
		g, err := m.m.Migrate(ctx)
		names = groupNames(g)
		return m.explain(err)
	})
	if err != nil {
		return names, fmt.Errorf("migrate up: %w", err)
	}
	return names, nil
}

// Status lists every known migration, oldest first. It only reads: it
// takes no lock and creates nothing, so on a database never migrated every
// migration is pending.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	ms, err := m.withStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate status: %w", err)
	}
	out := make([]Status, 0, len(ms))
	for _, mig := range ms {
		out = append(out, Status{
			Name: fullName(mig), Applied: mig.IsApplied(),
			GroupID: mig.GroupID, AppliedAt: mig.MigratedAt,
		})
	}
	return out, nil
}

// Pending lists the migrations the database has not applied, oldest
// first. Like Status it only reads, so it is cheap enough for a readiness
// check and never waits for a migration in progress (whose record commits
// with it).
func (m *Migrator) Pending(ctx context.Context) ([]string, error) {
	ms, err := m.withStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate pending: %w", err)
	}
	var pending []string
	for _, mig := range ms {
		if !mig.IsApplied() {
			pending = append(pending, fullName(mig))
		}
	}
	return pending, nil
}

// withStatus reads the migrations table once, without the advisory lock.
// A database that was never migrated has no such table: nothing is applied.
func (m *Migrator) withStatus(ctx context.Context) (migrate.MigrationSlice, error) {
	ms, err := m.m.MigrationsWithStatus(ctx)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return m.migrations.Sorted(), nil
	}
	return ms, err
}

// locked runs fn while holding the advisory lock on one pooled connection.
// The lock is per session, so it is released even if this process dies.
func (m *Migrator) locked(ctx context.Context, fn func() error) (err error) {
	conn, err := m.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock(?)", lockKey); err != nil {
		return fmt.Errorf("take advisory lock: %w", err)
	}
	defer func() {
		// A fresh context: the caller's may be done, and the lock must go.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, uerr := conn.ExecContext(uctx, "SELECT pg_advisory_unlock(?)", lockKey); uerr != nil && err == nil {
			err = fmt.Errorf("release advisory lock: %w", uerr)
		}
	}()
	// Creating the bookkeeping tables under the lock avoids the race between
	// two concurrent CREATE TABLE IF NOT EXISTS.
	if err := m.m.Init(ctx); err != nil {
		return fmt.Errorf("create migration tables: %w", err)
	}
	// The lock's connection is idle while migrations run on another: it
	// watches what they wait for.
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() { defer close(watched); m.watchLocks(context.WithoutCancel(ctx), conn, stop) }()
	defer func() { close(stop); <-watched }()
	return fn()
}

func groupNames(g *migrate.MigrationGroup) []string {
	if g == nil {
		return nil
	}
	names := make([]string, 0, len(g.Migrations))
	for _, mig := range g.Migrations {
		names = append(names, fullName(mig))
	}
	return names
}

// fullName is the file name without its suffix, e.g. 20261126000001_create_users.
func fullName(mig migrate.Migration) string {
	if mig.Comment == "" {
		return mig.Name
	}
	return mig.Name + "_" + mig.Comment
}
