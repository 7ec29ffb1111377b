package migrations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

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
