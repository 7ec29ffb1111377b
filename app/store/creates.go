package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Creates insert tweets with their positions, in batches.
//
// A position must be final once visible, so a create draws it under
// tweet_order's row lock, held until its transaction commits (see the
// migration tweets_positions): commits that give positions are serialized.
// So concurrent creates wait in one queue, and one statement inserts all
// that waited, positions and all: one write and one commit for many tweets.
// Alone, a create is one statement. Why not number after commit:
// docs/lists.md, "Why this design".

// maxBatch bounds the tweets one statement inserts.
const maxBatch = 256

// insertTweetsSQL inserts $1 texts by $2 authors (NULL for anonymous) at
// the next $3 positions, which it takes from tweet_order under its row
// lock, and returns them with their authors' names. The lock's UPDATE
// re-reads the row once the previous holder commits, so positions follow
// every position given before; it also starts above max(position), for a
// cutover that did not carry tweet_order's row.
var insertTweetsSQL = `WITH o AS (
	UPDATE tweet_order SET last_position = greatest(last_position,
		(SELECT coalesce(max(position), 0) FROM tweets)) + $3
	RETURNING last_position - $3 AS base
), t AS (
	INSERT INTO tweets (text, user_id, position)
	SELECT x.text, x.user_id, o.base + x.n
	FROM o, unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS x(text, user_id, n)
	RETURNING *
)
SELECT ` + listColumns + ` FROM t` + joinAuthor

type pendingCreate struct {
	ctx    context.Context
	text   string
	author *int64
	done   chan createResult // buffered: the batch never waits for it
}

type createResult struct {
	tweet twitter.Tweet
	err   error
}

// createQueue is the queue of creates of one pool: one batch in flight at a time.
type createQueue struct {
	db      *DB
	mu      sync.Mutex
	running bool
	queue   []*pendingCreate
}

// create queues a tweet and waits for the statement that inserts it. Its
// answer is the statement's: see "A create's answer" in docs/lists.md.
func (c *createQueue) create(ctx context.Context, text string, author *int64) (twitter.Tweet, error) {
	p := &pendingCreate{ctx: ctx, text: text, author: author, done: make(chan createResult, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, p)
	if !c.running {
		c.running = true
		go c.loop()
	}
	c.mu.Unlock()
	select {
	case r := <-p.done:
		return r.tweet, r.err
	case <-ctx.Done():
	}
	if c.withdraw(p) {
		return twitter.Tweet{}, ctx.Err() // never sent: no row
	}
	// In a batch already: dropped before its statement (ctx.Err()), or
	// sent, and then the statement's outcome is the answer.
	r := <-p.done
	return r.tweet, r.err
}

// withdraw takes p out of the queue and reports whether it was still there.
func (c *createQueue) withdraw(p *pendingCreate) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.queue, p)
	if i < 0 {
		return false
	}
	c.queue = slices.Delete(c.queue, i, i+1)
	return true
}

// loop inserts what has queued, batch after batch, until nothing waits.
func (c *createQueue) loop() {
	for {
		c.mu.Lock()
		n := min(len(c.queue), maxBatch)
		if n == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		batch := slices.Clone(c.queue[:n])
		c.queue = slices.Delete(c.queue, 0, n)
		c.mu.Unlock()
		c.insert(batch)
	}
}

// insert runs one statement for batch, which it takes over, and answers
// every create in it. A create whose request ended before the statement is
// answered with its context's error and left out.
func (c *createQueue) insert(batch []*pendingCreate) {
	batch = slices.DeleteFunc(batch, func(p *pendingCreate) bool {
		if err := p.ctx.Err(); err != nil {
			p.done <- createResult{err: err}
			return true
		}
		return false
	})
	if len(batch) == 0 {
		return
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	tweets, err := c.db.insertTweets(ctx, batch)
	var pgErr *pgconn.PgError
	if err != nil && len(batch) > 1 && errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "23") {
		// One create broke a constraint (its author deleted after
		// authenticating) and failed the statement for all: each alone,
		// so that only it fails.
		for _, p := range batch {
			c.insert([]*pendingCreate{p})
		}
		return
	}
	for i, p := range batch {
		if err != nil {
			p.done <- createResult{err: mapErr("insert tweet", err, constraints{
				// The author was deleted after authenticating: the key
				// belongs to nobody any more.
				"tweets_user_id_fkey": twitter.ErrUnknownAPIKey,
			})}
			continue
		}
		p.done <- createResult{tweet: tweets[i]}
	}
}

// batchContext ends once every request of the batch has ended: one
// request's end must not fail the others', and a statement nobody waits
// for any more is cancelled on the server (cancelOnServer), so that it
// commits nothing after its requests were told it failed. Values (a trace)
// come from the first.
func batchContext(batch []*pendingCreate) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(cancelOnServer(context.WithoutCancel(batch[0].ctx)))
	left := atomic.Int64{}
	left.Store(int64(len(batch)))
	stops := make([]func() bool, len(batch))
	for i, p := range batch {
		stops[i] = context.AfterFunc(p.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// insertTweets inserts batch in one statement and returns its tweets in
// batch's order: position order, as positions follow the input's order.
func (db *DB) insertTweets(ctx context.Context, batch []*pendingCreate) ([]twitter.Tweet, error) {
	texts := make([]string, len(batch))
	authors := make([]*int64, len(batch))
	for i, p := range batch {
		texts[i], authors[i] = p.text, p.author
	}
	tweets, positions, err := db.queryTweets(ctx, insertTweetsSQL, false,
		make([]twitter.Tweet, 0, len(batch)), texts, authors, len(batch))
	if err != nil {
		return nil, err
	}
	if len(tweets) != len(batch) {
		return nil, fmt.Errorf("inserted %d tweets of %d", len(tweets), len(batch))
	}
	byPosition := make([]int, len(batch))
	for i := range byPosition {
		byPosition[i] = i
	}
	slices.SortFunc(byPosition, func(a, b int) int { return int(positions[a] - positions[b]) })
	out := make([]twitter.Tweet, len(batch))
	for i, j := range byPosition {
		out[i] = tweets[j]
	}
	return out, nil
}
