package testdb

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// SQL runs a spec's own statements, with $1, $2… for parameters: what a
// spec checks behind the store's back, or changes as no store method
// would. It is a small pool of its own beside the store's, so the store
// needs no way in for them.
type SQL struct{ pool *pgxpool.Pool }

// OpenSQL returns SQL on the database at dsn, closed when the spec ends.
// It connects on first use.
func OpenSQL(dsn string) *SQL {
	GinkgoHelper()
	s, err := openSQL(dsn)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(s.pool.Close)
	return s
}

func openSQL(dsn string) (*SQL, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	// Not the service's name: a spec counting the service's sessions by
	// application_name does not count these.
	cfg.ConnConfig.RuntimeParams["application_name"] = "testdb"
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	return &SQL{pool: pool}, nil
}

// Exec runs a statement.
func (s *SQL) Exec(ctx context.Context, query string, args ...any) error {
	_, err := s.pool.Exec(ctx, query, args...)
	return err
}

// Query runs a query for all its rows.
func (s *SQL) Query(ctx context.Context, query string, args ...any) (pgx.Rows, error) {
	return s.pool.Query(ctx, query, args...)
}

// QueryRow runs a query for its first row; Scan returns pgx.ErrNoRows when
// there is none.
func (s *SQL) QueryRow(ctx context.Context, query string, args ...any) pgx.Row {
	return s.pool.QueryRow(ctx, query, args...)
}

// Begin starts a transaction, on a connection it holds until it ends.
func (s *SQL) Begin(ctx context.Context) (pgx.Tx, error) { return s.pool.Begin(ctx) }

// ServiceLockWaits counts the sessions on this database, other than the
// spec's own (application_name testdb), that wait for a lock: how a spec
// knows a statement it started through the service is blocked where it meant.
func (s *SQL) ServiceLockWaits(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
	WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name <> 'testdb'`).Scan(&n)
	return n, err
}
