package store_test

import (
	"context"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// lister is one of the list methods, as a follower calls it.
type lister func(ctx context.Context, page twitter.Page) (twitter.TweetPage, error)

// follower reads a list the way a client follows Link or polls with
// Next-Cursor: from its last cursor on, page after page, never stepping back.
type follower struct {
	list   lister
	limit  int
	cursor string
	seen   []int64 // in the order received
	dups   []int64
	index  map[int64]bool
}

func newFollower(list lister, limit int) *follower {
	return &follower{list: list, limit: limit, index: map[int64]bool{}}
}

// catchUp follows pages until the list says no more follow, and returns
// how many ids it has seen in all.
func (f *follower) catchUp(ctx context.Context) (int, error) {
	for {
		p, err := f.list(ctx, twitter.Page{Limit: f.limit, Cursor: f.cursor})
		if err != nil {
			return len(f.seen), err
		}
		for _, t := range p.Tweets {
			if f.index[t.ID] {
				f.dups = append(f.dups, t.ID)
			}
			f.index[t.ID] = true
			f.seen = append(f.seen, t.ID)
		}
		f.cursor = p.Next
		if !p.More {
			return len(f.seen), nil
		}
	}
}
