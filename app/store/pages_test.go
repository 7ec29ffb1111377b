package store_test

import (
	"context"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// lister is one of the list methods, as a follower calls it.
type lister func(ctx context.Context, page twitter.Page) ([]twitter.Tweet, bool, error)

// follower reads a list the way a client follows Link or polls with
// after_id: from its last id on, page after page, never stepping back.
type follower struct {
	list  lister
	limit int
	after int64
	seen  []int64 // in the order received
	dups  []int64
	index map[int64]bool
}

func newFollower(list lister, limit int) *follower {
	return &follower{list: list, limit: limit, index: map[int64]bool{}}
}

// catchUp follows pages until the list says no more follow, and returns
// how many ids it has seen in all.
func (f *follower) catchUp(ctx context.Context) (int, error) {
	for {
		page, more, err := f.list(ctx, twitter.Page{Limit: f.limit, AfterID: f.after})
		if err != nil {
			return len(f.seen), err
		}
		for _, t := range page {
			if f.index[t.ID] {
				f.dups = append(f.dups, t.ID)
			}
			f.index[t.ID] = true
			f.seen = append(f.seen, t.ID)
			f.after = t.ID
		}
		if !more {
			return len(f.seen), nil
		}
	}
}

// insertHeld inserts a tweet in a transaction it leaves open, on a
// connection of its own, and returns the tweet's id and a function that ends
// the transaction, committing or rolling back.
func insertHeld(ctx context.Context, db *store.DB, author *int64) (int64, func(commit bool)) {
	GinkgoHelper()
	tx, err := db.BeginTx(ctx, nil)
	Expect(err).NotTo(HaveOccurred())
	done := false
	end := func(commit bool) {
		if done {
			return
		}
		done = true
		if commit {
			Expect(tx.Commit()).To(Succeed())
		} else {
			Expect(tx.Rollback()).To(Succeed())
		}
	}
	// The spec's context may have ended the transaction already.
	DeferCleanup(func() { _ = tx.Rollback() })
	var id int64
	Expect(tx.NewRaw("INSERT INTO tweets (text, user_id) VALUES ('held open', ?) RETURNING id", author).
		Scan(ctx, &id)).To(Succeed())
	return id, end
}

func isOpen(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return false
	default:
		return true
	}
}

var _ = Describe("Pages under concurrent writes", func() {
	var (
		tweets *store.Tweets
		author twitter.User
	)

	BeforeEach(func(ctx SpecContext) {
		tweets = store.NewTweets(tdb.DB)
		var err error
		_, hash := twitter.NewAPIKey()
		author, err = store.NewUsers(tdb.DB).Create(ctx, twitter.NewUser{Username: "writer", Email: "writer@example.com"}, hash)
		Expect(err).NotTo(HaveOccurred())
	})

	lists := map[string]func() lister{
		"all tweets": func() lister { return tweets.List },
		"a user's tweets": func() lister {
			return func(ctx context.Context, p twitter.Page) ([]twitter.Tweet, bool, error) {
				return tweets.ListByUser(ctx, author.ID, p)
			}
		},
	}

	create := func(ctx context.Context, n int) []int64 {
		GinkgoHelper()
		ids := make([]int64, n)
		for i := range ids {
			t, err := tweets.Create(ctx, fmt.Sprintf("tweet %d", i), &author)
			Expect(err).NotTo(HaveOccurred())
			ids[i] = t.ID
		}
		return ids
	}

	DescribeTable("returns a tweet whose insert commits after higher ids, exactly once",
		func(ctx SpecContext, name string) {
			list := lists[name]()
			before := create(ctx, 2)
			held, end := insertHeld(ctx, tdb.DB, &author.ID)
			after := create(ctx, 5)
			Expect(held).To(BeNumerically("<", after[0]), "the held insert has the lower id")

			f := newFollower(list, 2)
			Expect(f.catchUp(ctx)).To(Equal(2))
			Expect(f.seen).To(Equal(before), "nothing past an open insert is final yet")
			// GET /tweets/{id} does not wait for the horizon.
			_, err := tweets.Get(ctx, after[0])
			Expect(err).NotTo(HaveOccurred())

			end(true)
			Eventually(f.catchUp).WithContext(ctx).Should(Equal(8))
			Expect(f.dups).To(BeEmpty())
			// The late tweet appears in the place its transaction took.
			Expect(f.seen).To(Equal(append(append(before, held), after...)))
		},
		Entry("GET /tweets", "all tweets"),
		Entry("GET /users/{id}/tweets", "a user's tweets"),
	)

	It("moves on once a held insert rolls back", func(ctx SpecContext) {
		_, end := insertHeld(ctx, tdb.DB, nil)
		after := create(ctx, 3)
		f := newFollower(tweets.List, 10)
		Expect(f.catchUp(ctx)).To(Equal(0))
		end(false)
		Eventually(f.catchUp).WithContext(ctx).Should(Equal(3))
		Expect(f.seen).To(Equal(after))
	})

	It("resumes after a deleted cursor tweet from the nearest lower id", func(ctx SpecContext) {
		ids := create(ctx, 4)
		Expect(tweets.Delete(ctx, ids[1], &author)).To(Succeed())
		page, more, err := tweets.List(ctx, twitter.Page{Limit: 10, AfterID: ids[1]})
		Expect(err).NotTo(HaveOccurred())
		Expect(more).To(BeFalse())
		Expect(page).To(HaveLen(2))
		Expect([]int64{page[0].ID, page[1].ID}).To(Equal(ids[2:]))

		Expect(tweets.Delete(ctx, ids[0], &author)).To(Succeed())
		page, _, err = tweets.List(ctx, twitter.Page{Limit: 10, AfterID: ids[1]})
		Expect(err).NotTo(HaveOccurred())
		Expect(page).To(HaveLen(2), "with nothing lower left, from the start")
	})

	It("gives a polling follower every acknowledged id exactly once under 8 concurrent writers", func(ctx SpecContext) {
		const (
			writers   = 8
			perWriter = 40
			runFor    = 10 * time.Second // a bound for a loaded machine; normally ~1 s
		)
		var (
			mu               sync.Mutex
			acked, ackedMine []int64
			writeErrs        []error
		)
		// A pool that keeps all its connections: 8 writers and a follower
		// should not pay for new logins as they take turns.
		db, err := store.Open(tdb.DSN, store.Options{MaxOpenConns: writers + 2, MaxIdleConns: writers + 2})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(db.Close)
		// Log them all in before the clock starts: on a loaded machine a
		// login can outlast the connect timeout, which is not what this tests.
		Eventually(func(ctx context.Context) error {
			conns := make([]bun.Conn, 0, writers+2)
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			for range writers + 2 {
				c, err := db.Conn(ctx)
				if err != nil {
					return err
				}
				conns = append(conns, c)
			}
			return nil
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		tweets := store.NewTweets(db)
		list := func(ctx context.Context, p twitter.Page) ([]twitter.Tweet, bool, error) {
			return tweets.ListByUser(ctx, author.ID, p)
		}

		writeCtx, stop := context.WithTimeout(ctx, runFor)
		defer stop()
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := 0; i < perWriter && writeCtx.Err() == nil; i++ {
					var author2 *twitter.User
					if i%2 == 0 {
						author2 = &author
					}
					var id int64
					var err error
					if (w+i)%3 == 0 {
						// Through the store: a one-statement transaction.
						var t twitter.Tweet
						t, err = tweets.Create(ctx, fmt.Sprintf("w%d-%d", w, i), author2)
						id = t.ID
					} else {
						// A transaction that stays open for up to 10 ms after
						// drawing its id, while others commit higher ids.
						err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
							var uid *int64
							if author2 != nil {
								uid = &author2.ID
							}
							if err := tx.NewRaw("INSERT INTO tweets (text, user_id) VALUES (?, ?) RETURNING id",
								fmt.Sprintf("w%d-%d", w, i), uid).Scan(ctx, &id); err != nil {
								return err
							}
							_, err := tx.ExecContext(ctx, "SELECT pg_sleep(random() * 0.01)")
							return err
						})
					}
					mu.Lock()
					if err != nil {
						writeErrs = append(writeErrs, err)
					} else {
						acked = append(acked, id)
						if author2 != nil {
							ackedMine = append(ackedMine, id)
						}
					}
					mu.Unlock()
				}
			})
		}

		all := newFollower(tweets.List, 7)
		mine := newFollower(list, 5)
		var pollErr error
		polls := 0
		writing := make(chan struct{})
		go func() { wg.Wait(); close(writing) }()
		for pollErr == nil && isOpen(writing) {
			before := len(all.seen)
			_, pollErr = all.catchUp(ctx)
			if pollErr == nil {
				_, pollErr = mine.catchUp(ctx)
			}
			polls++
			if len(all.seen) == before {
				time.Sleep(time.Millisecond) // a poller's interval, leaving the writers the CPU
			}
		}
		wg.Wait()
		Expect(pollErr).NotTo(HaveOccurred())
		Expect(writeErrs).To(BeEmpty())
		Expect(len(acked)).To(BeNumerically(">=", writers*2), "the writers wrote")
		By(fmt.Sprintf("%d acknowledged tweets, %d of them authored; %d polls while writing", len(acked), len(ackedMine), polls))

		Eventually(all.catchUp).WithContext(ctx).WithTimeout(10 * time.Second).Should(Equal(len(acked)))
		Eventually(mine.catchUp).WithContext(ctx).WithTimeout(10 * time.Second).Should(Equal(len(ackedMine)))
		Expect(all.dups).To(BeEmpty())
		Expect(mine.dups).To(BeEmpty())
		Expect(all.seen).To(ConsistOf(acked))
		Expect(mine.seen).To(ConsistOf(ackedMine))
	})
})
