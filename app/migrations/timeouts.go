package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/migrate"
)

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
