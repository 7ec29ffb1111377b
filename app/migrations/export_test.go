package migrations

import (
	"context"
	"io/fs"
	"regexp"
	"slices"
	"strings"
)

// WithFS is opts (optional) with the migrations in fsys instead of the
// embedded ones, so specs can run sets of their own.
func WithFS(fsys fs.FS, opts ...Options) Options {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.fsys = fsys
	return o
}

// Timeouts reads lock_timeout and statement_timeout on a session of m's
// pool, which the migrations must leave as they found them.
func (m *Migrator) Timeouts(ctx context.Context) (lock, statement string, err error) {
	err = m.db.QueryRowContext(ctx, "SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").
		Scan(&lock, &statement)
	return lock, statement, err
}

// LockKey is the advisory lock migrations run under.
const LockKey = lockKey

var createTable = regexp.MustCompile(`(?i)\bCREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([a-z_][a-z0-9_]*)`)

// CreatedTables reads the embedded up migrations, oldest first, and returns
// the tables they leave behind: created and not dropped again.
func CreatedTables() []string {
	ups, err := fs.Glob(files, "*.up.sql")
	if err != nil {
		panic(err)
	}
	slices.Sort(ups) // the timestamp prefix orders them
	var tables []string
	for _, name := range ups {
		b, err := fs.ReadFile(files, name)
		if err != nil {
			panic(err)
		}
		sql := StripComments(string(b))
		for _, m := range createTable.FindAllStringSubmatch(sql, -1) {
			tables = append(tables, strings.ToLower(m[1]))
		}
		for _, m := range dropTable.FindAllStringSubmatch(sql, -1) {
			tables = slices.DeleteFunc(tables, func(t string) bool { return t == strings.ToLower(m[1]) })
		}
	}
	return tables
}
