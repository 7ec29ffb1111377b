package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// constraints maps each constraint a statement may violate in normal use to
// the domain error that violation means. Every store method names its own:
// a violation it does not name is a bug, reported as an unexpected error
// whose detail (the constraint's name) reaches the log, never a client.
type constraints map[string]error

// mapErr wraps err with op and, where one applies, the domain error, keeping
// the original for the logs. expected lists the constraints op may violate.
func mapErr(op string, err error, expected constraints) error {
	if err == nil {
		return nil
	}
	if domain := domainErr(err, expected); domain != nil {
		return fmt.Errorf("%s: %w: %w", op, domain, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func domainErr(err error, expected constraints) error {
	if errors.Is(err, sql.ErrNoRows) {
		return twitter.ErrNotFound
	}
	// Before PgError: a refused login wraps the server's PgError in a
	// ConnectError, and any connection failure means unavailable.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return twitter.ErrUnavailable
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "23"): // integrity constraint violation
			return expected[pgErr.ConstraintName] // nil, a bug, when not expected
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			strings.HasPrefix(pgErr.Code, "28"), // invalid authorization (wrong password)
			strings.HasPrefix(pgErr.Code, "53"), // insufficient resources, too many connections
			pgErr.Code == "3D000",               // the database does not exist
			pgErr.Code == "25006",               // read-only transaction (a replica after failover)
			pgErr.Code == "57014",               // statement timeout or cancel
			pgErr.Code == "57P01",               // admin shutdown
			pgErr.Code == "57P02",               // crash shutdown
			pgErr.Code == "57P03":               // cannot connect now (starting up)
			return twitter.ErrUnavailable
		}
		return nil
	}
	if unavailable(err) {
		return twitter.ErrUnavailable
	}
	return nil
}

// unavailable reports errors that mean the database could not be reached or
// did not answer in time, as opposed to rejecting the query.
func unavailable(err error) bool {
	var netErr net.Error
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.As(err, &netErr) ||
		pgconn.Timeout(err)
}

func isNotFound(err error) bool { return errors.Is(err, twitter.ErrNotFound) }
