// Package readiness decides whether this process should get traffic: the
// database answers, on a pool of its own that requests never queue for, and
// has applied every migration embedded in this binary. A replica of a new
// version therefore stays out of rotation until its migrations have run,
// and a saturated request pool does not make every replica unready at once.
package readiness

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// defaultTimeout bounds a check whose caller set no deadline.
const defaultTimeout = 5 * time.Second

// DefaultRecheck is how long a schema seen complete is trusted before a
// check reads the migrations table again: a rollback (migrate down) under
// a running version takes it out of rotation within this, plus a probe
// period. One small query a replica every half minute.
const DefaultRecheck = 30 * time.Second

// Checker answers readiness checks.
type Checker struct {
	db *store.DB
	m  *migrations.Migrator
	// schemaUntil (Unix nanoseconds) is when the schema last seen complete
	// is to be read again; until then a check is a ping.
	schemaUntil atomic.Int64
	recheck     time.Duration
	// Checks asked for while one runs share its answer: a burst of probes
	// costs one round trip, never a queue.
	flight singleflight.Group
}

// New returns a Checker over db: a pool used for nothing else, so that a
// check never waits behind requests for a connection. One connection is
// enough. Once ready, it reads the schema again every recheck
// (DefaultRecheck when zero).
func New(db *store.DB, recheck time.Duration) (*Checker, error) {
	m, err := db.Migrator()
	if err != nil {
		return nil, err
	}
	if recheck <= 0 {
		recheck = DefaultRecheck
	}
	return &Checker{db: db, m: m, recheck: recheck}, nil
}

// Ready returns nil when the service should get traffic. Otherwise the
// error wraps twitter.ErrSchemaBehind (migrations pending) or
// twitter.ErrUnavailable (the database did not answer).
func (c *Checker) Ready(ctx context.Context) error {
	ch := c.flight.DoChan("ready", func() (any, error) {
		// The shared check keeps the first caller's deadline but not its
		// cancellation: the others still wait for its answer.
		deadline, ok := ctx.Deadline()
		if !ok {
			deadline = time.Now().Add(defaultTimeout)
		}
		cctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
		defer cancel()
		return nil, c.check(cctx)
	})
	select {
	case r := <-ch:
		return r.Err
	case <-ctx.Done():
		return fmt.Errorf("readiness: %w: %w", twitter.ErrUnavailable, ctx.Err())
	}
}

func (c *Checker) check(ctx context.Context) error {
	if time.Now().UnixNano() < c.schemaUntil.Load() {
		if err := c.db.Ping(ctx); err != nil {
			return fmt.Errorf("readiness: %w", err)
		}
		return nil
	}
	pending, err := c.m.Pending(ctx)
	if err != nil {
		// Whatever the cause (down, wrong password), the service is not ready.
		return fmt.Errorf("readiness: %w: %w", twitter.ErrUnavailable, err)
	}
	if len(pending) > 0 {
		c.schemaUntil.Store(0)
		return fmt.Errorf("readiness: %w: %d migration(s) pending: %s",
			twitter.ErrSchemaBehind, len(pending), strings.Join(pending, ", "))
	}
	// Reading the migrations table proved that the database answers.
	c.schemaUntil.Store(time.Now().Add(c.recheck).UnixNano())
	return nil
}
