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

// Checker answers readiness checks.
type Checker struct {
	db *store.DB
	m  *migrations.Migrator
	// schema is set once every embedded migration has been seen applied;
	// from then on a check is a ping. Migrations are not rolled back under a
	// running version, so it is never looked at again.
	schema atomic.Bool
	// Checks asked for while one runs share its answer: a burst of probes
	// costs one round trip, never a queue.
	flight singleflight.Group
}

// New returns a Checker over db: a pool used for nothing else, so that a
// check never waits behind requests for a connection. One connection is
// enough.
func New(db *store.DB) (*Checker, error) {
	m, err := db.Migrator()
	if err != nil {
		return nil, err
	}
	return &Checker{db: db, m: m}, nil
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
	if c.schema.Load() {
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
		return fmt.Errorf("readiness: %w: %d migration(s) pending: %s",
			twitter.ErrSchemaBehind, len(pending), strings.Join(pending, ", "))
	}
	// Reading the migrations table proved that the database answers.
	c.schema.Store(true)
	return nil
}
