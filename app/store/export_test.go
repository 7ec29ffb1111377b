package store

import (
	"context"
	"slices"

	"github.com/uptrace/bun"
)

// Bun is db's Bun handle, for the store's specs that work on the pool
// itself: holding its connections, or writing behind the store's back on
// them. Other packages' specs use testdb.SQL.
func (db *DB) Bun() *bun.DB { return db.bun }

// InsertBatch runs one batch of anonymous creates, one a context, as the
// queue would send them together, and returns each one's error.
func (db *DB) InsertBatch(ctxs ...context.Context) []error {
	batch := make([]*pendingCreate, len(ctxs))
	for i, ctx := range ctxs {
		batch[i] = &pendingCreate{ctx: ctx, text: "batched", done: make(chan createResult, 1)}
	}
	db.createQueue.insert(slices.Clone(batch)) // insert takes its batch over
	errs := make([]error, len(batch))
	for i, p := range batch {
		errs[i] = (<-p.done).err
	}
	return errs
}

// EncodeCursor and DecodeCursor are the cursor codec, for specs that need
// no database.
func EncodeCursor(key []byte, list string, listKey int64) string {
	return encodeCursor(key, list, listKey)
}

func DecodeCursor(key []byte, list, s string) (int64, error) { return decodeCursor(key, list, s) }
