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
	"os"
	"path/filepath"
	"regexp"
	"strings"
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

// bound sets the migration's timeouts on its own connection (LOCAL to its
// transaction when it has one) and notes its backend for the lock watcher.
func (m *Migrator) bound(ctx context.Context, conn bun.IConn, mig *migrate.Migration) error {
	scope := "SESSION"
	if _, ok := conn.(bun.Tx); ok {
		scope = "LOCAL"
	}
	// SET takes no bind parameters; the values are integers we format.
	for name, d := range map[string]time.Duration{
		"lock_timeout": m.opts.LockTimeout, "statement_timeout": m.opts.StatementTimeout,
	} {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET %s %s = %d", scope, name, d.Milliseconds())); err != nil {
			return fmt.Errorf("set %s: %w", name, err)
		}
	}
	var pid int64
	if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		return fmt.Errorf("backend pid: %w", err)
	}
	m.pid.Store(pid)
	m.mu.Lock()
	m.current, m.wait = fullName(*mig), ""
	m.mu.Unlock()
	return nil
}

// lockWatchInterval is how often the watcher looks at what a migration waits for.
const lockWatchInterval = 50 * time.Millisecond

// watchLocks records, until stop is closed, which lock the running
// migration waits for and who holds it. PostgreSQL's lock timeout error
// names neither; by the time it is returned the wait is over and gone.
// Its queries are never cancelled midway: that would break conn, which
// still has to release the advisory lock.
func (m *Migrator) watchLocks(ctx context.Context, conn bun.IConn, stop <-chan struct{}) {
	t := time.NewTicker(lockWatchInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		pid := m.pid.Load()
		if pid == 0 {
			continue
		}
		var lock, holders string
		err := conn.QueryRowContext(ctx, `
			SELECT l.mode || ' on ' || CASE WHEN l.relation IS NULL THEN l.locktype
				ELSE 'table ' || l.relation::regclass::text END,
				coalesce((
					SELECT string_agg(format('pid %s (%s: %s)', b.pid, b.state, left(b.query, 80)), ', ')
					FROM pg_stat_activity b WHERE b.pid = ANY(pg_blocking_pids(l.pid))), '')
			FROM pg_locks l WHERE l.pid = ? AND NOT l.granted LIMIT 1`, pid).Scan(&lock, &holders)
		if err != nil {
			continue
		}
		// pg_locks and pg_blocking_pids are read at different moments: a
		// sample taken as the wait ends sees the lock but no holder. It
		// must not overwrite an earlier sample that named the holder.
		m.mu.Lock()
		if holders != "" {
			m.wait = lock + ", held by " + holders
		} else if !strings.HasPrefix(m.wait, lock) {
			m.wait = lock
		}
		m.mu.Unlock()
	}
}

// explain adds to a timeout what was being waited for and which setting
// gave up, so the operator knows what to look at.
func (m *Migrator) explain(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err
	}
	m.mu.Lock()
	current, wait := m.current, m.wait
	m.mu.Unlock()
	switch pgErr.Code {
	case "55P03": // lock_not_available
		if wait == "" {
			wait = "a lock held by another session"
		}
		return fmt.Errorf("migration %s gave up after MIGRATION_LOCK_TIMEOUT (%s) waiting for %s: %w",
			current, m.opts.LockTimeout, wait, err)
	case "57014": // query_canceled, here by statement_timeout
		return fmt.Errorf("migration %s ran a statement longer than MIGRATION_STATEMENT_TIMEOUT (%s): %w",
			current, m.opts.StatementTimeout, err)
	}
	return err
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

// DownOptions changes what Down may do.
type DownOptions struct {
	// Force rolls back a migration even if it drops a table holding rows.
	Force bool
}

// ErrDropsRows is returned by Down for a migration whose down SQL drops a
// table that holds rows, unless DownOptions.Force is set.
var ErrDropsRows = errors.New("the rollback drops a table that holds rows")

// Down rolls back the newest applied migration, one only, and returns its
// name, or "" with nothing applied. Bun rolls back a whole group, and a
// fresh database applies every migration in one group, so the groups are
// first renumbered one per migration: rolling back after a first deploy
// then undoes the last migration, not the whole schema.
func (m *Migrator) Down(ctx context.Context, opts DownOptions) (string, error) {
	var name string
	err := m.locked(ctx, func() error {
		if _, err := m.db.NewUpdate().Table(table).Set("group_id = id").Where("group_id <> id").Exec(ctx); err != nil {
			return err
		}
		last, err := m.lastApplied(ctx)
		if err != nil || last == "" {
			return err
		}
		if !opts.Force {
			if err := m.refuseDroppingRows(ctx, last); err != nil {
				return err
			}
		}
		g, err := m.m.Rollback(ctx)
		if names := groupNames(g); len(names) > 0 {
			name = names[0]
		}
		return m.explain(err)
	})
	if err != nil {
		return name, fmt.Errorf("migrate down: %w", err)
	}
	return name, nil
}

// lastApplied is the name of the applied migration with the highest group.
func (m *Migrator) lastApplied(ctx context.Context) (string, error) {
	ms, err := m.m.MigrationsWithStatus(ctx)
	if err != nil {
		return "", err
	}
	last := ms.LastGroup()
	if len(last.Migrations) == 0 {
		return "", nil
	}
	return fullName(last.Migrations[0]), nil
}

var dropTable = regexp.MustCompile(`(?i)\bDROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?"?([a-z_][a-z0-9_]*)`)

// derivedTable marks, in a down file, a table whose rows are nobody's data
// (a counter, a key its up migration made), which the rollback may drop
// without --force: a line "-- derived table: tweet_order".
var derivedTable = regexp.MustCompile(`(?m)^--\s*derived table:\s*([a-z_][a-z0-9_]*)\s*$`)

// refuseDroppingRows reads name's down SQL and fails with ErrDropsRows if
// a table it drops holds a row: losing data takes an explicit --force.
func (m *Migrator) refuseDroppingRows(ctx context.Context, name string) error {
	downs, err := fs.Glob(m.fsys, name+".*down.sql")
	if err != nil {
		return err
	}
	for _, f := range downs {
		b, err := fs.ReadFile(m.fsys, f)
		if err != nil {
			return err
		}
		derived := map[string]bool{}
		for _, match := range derivedTable.FindAllStringSubmatch(string(b), -1) {
			derived[match[1]] = true
		}
		for _, match := range dropTable.FindAllStringSubmatch(StripComments(string(b)), -1) {
			t := strings.ToLower(match[1])
			if derived[t] {
				continue
			}
			var rows bool
			err := m.db.NewRaw("SELECT to_regclass(?) IS NOT NULL AND EXISTS (SELECT 1 FROM ?)", t, bun.Ident(t)).Scan(ctx, &rows)
			if err != nil {
				var pgErr *pgconn.PgError
				if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // already gone
					continue
				}
				return err
			}
			if rows {
				return fmt.Errorf("%s drops table %s: %w; force it to lose them", name, t, ErrDropsRows)
			}
		}
	}
	return nil
}

// StripComments blanks SQL line comments, so a commented-out statement is
// not read as one.
func StripComments(sql string) string {
	lines := strings.Split(sql, "\n")
	for i, l := range lines {
		if j := strings.Index(l, "--"); j >= 0 {
			lines[i] = l[:j]
		}
	}
	return strings.Join(lines, "\n")
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

var namePattern = regexp.MustCompile(`^[a-z0-9_]+$`)

// Create writes an empty transactional up/down pair named name into dir,
// the source folder of this package, and returns the paths written.
func Create(dir, name string, now time.Time) ([]string, error) {
	if !namePattern.MatchString(name) {
		return nil, fmt.Errorf("migration name %q: use lower-case letters, digits and underscores", name)
	}
	base := now.UTC().Format("20060102150405") + "_" + name
	var paths []string
	for _, dir2 := range []string{"up", "down"} {
		p := filepath.Join(dir, base+".tx."+dir2+".sql")
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return paths, fmt.Errorf("create migration: %w", err)
		}
		_, err = fmt.Fprintf(f, "-- %s: %s (runs in one transaction)\n", name, dir2)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return paths, fmt.Errorf("create migration: %w", err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// fullName is the file name without its suffix, e.g. 20261126000001_create_users.
func fullName(mig migrate.Migration) string {
	if mig.Comment == "" {
		return mig.Name
	}
	return mig.Name + "_" + mig.Comment
}
