// Package migrations holds the schema as embedded SQL files and applies
// them with Bun's migrator under a PostgreSQL advisory lock, so several
// replicas may start at once without failing or applying anything twice.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

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
	db *bun.DB
	m  *migrate.Migrator
}

// Status is one migration and whether it is applied.
type Status struct {
	Name      string
	Applied   bool
	GroupID   int64
	AppliedAt time.Time
}

// New returns a Migrator over db.
func New(db *bun.DB) (*Migrator, error) { return newFromFS(db, files) }

func newFromFS(db *bun.DB, fsys fs.FS) (*Migrator, error) {
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		return nil, fmt.Errorf("discover migrations: %w", err)
	}
	m := migrate.NewMigrator(db, ms,
		migrate.WithTableName(table),
		migrate.WithLocksTableName(locksTable),
		migrate.WithMarkAppliedOnSuccess(true),
		migrate.WithUpsert(true),
		// A .tx. migration runs in a transaction; recording it in that same
		// transaction means a crash can never leave it applied but unmarked.
		migrate.AfterMigration(recordInTx),
	)
	return &Migrator{db: db, m: m}, nil
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

// Up applies every pending migration and returns their names.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	var names []string
	err := m.locked(ctx, func() error {
		g, err := m.m.Migrate(ctx)
		names = groupNames(g)
		return err
	})
	if err != nil {
		return names, fmt.Errorf("migrate up: %w", err)
	}
	return names, nil
}

// Down rolls back the most recently applied group and returns the names
// rolled back, newest first.
func (m *Migrator) Down(ctx context.Context) ([]string, error) {
	var names []string
	err := m.locked(ctx, func() error {
		g, err := m.m.Rollback(ctx)
		names = groupNames(g)
		if len(names) > 0 { // Bun lists the group oldest first; it undid them in reverse
			for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
				names[i], names[j] = names[j], names[i]
			}
		}
		return err
	})
	if err != nil {
		return names, fmt.Errorf("migrate down: %w", err)
	}
	return names, nil
}

// Status lists every known migration, oldest first.
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	var out []Status
	err := m.locked(ctx, func() error {
		ms, err := m.m.MigrationsWithStatus(ctx)
		if err != nil {
			return err
		}
		for _, mig := range ms {
			out = append(out, Status{
				Name: fullName(mig), Applied: mig.IsApplied(),
				GroupID: mig.GroupID, AppliedAt: mig.MigratedAt,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate status: %w", err)
	}
	return out, nil
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
