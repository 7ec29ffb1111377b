package store

import (
	"context"
	"time"
)

// assignSQL numbers committed tweets that have no position yet: those the
// previous version inserts during a rolling update, or inserted by hand.
// See the migration tweets_positions for why one caller at a time makes
// positions final in the order they become visible.
const assignSQL = `SELECT tweets_assign_positions($1)`

// assignBatch bounds the tweets one run numbers, and so the run's time
// under the lock; a sweep that numbers a full batch runs again at once.
const assignBatch = 5000

func (db *DB) assignOnce(ctx context.Context) (int64, error) {
	var n int64
	err := db.queryRow(ctx, assignSQL, assignBatch).Scan(&n)
	return n, mapErr("assign positions", err, nil)
}

// AssignPositions numbers every committed tweet that has no position yet
// (see assignSQL) and returns how many it numbered.
func (db *DB) AssignPositions(ctx context.Context) (int64, error) {
	var total int64
	for {
		n, err := db.assignOnce(ctx)
		total += n
		if err != nil || n < assignBatch {
			return total, err
		}
	}
}

// SweepPositions runs AssignPositions every interval until ctx ends,
// reporting each failure to onErr.
func (db *DB) SweepPositions(ctx context.Context, interval time.Duration, onErr func(error)) {
	every(ctx, interval, func(ctx context.Context) error {
		_, err := db.AssignPositions(ctx)
		return err
	}, onErr)
}

// SweepIdempotencyKeys runs DeleteExpiredIdempotencyKeys every interval
// until ctx ends, reporting each failure to onErr.
func (db *DB) SweepIdempotencyKeys(ctx context.Context, interval time.Duration, onErr func(error)) {
	every(ctx, interval, db.DeleteExpiredIdempotencyKeys, onErr)
}

// every runs run every interval until ctx ends, reporting each failure.
func every(ctx context.Context, interval time.Duration, run func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := run(ctx); err != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
}
