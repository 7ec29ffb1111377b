package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/uptrace/bun"

	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// insertHeld inserts a tweet in a transaction it leaves open, on a
// connection of its own, and returns the tweet's id and a function that ends
// the transaction, committing or rolling back. The insert bypasses the
// store, as the previous version's or a hand-written one would: the tweet
// has no position until AssignPositions (the sweep) numbers it.
func insertHeld(ctx context.Context, author *int64) (int64, func(commit bool)) {
	GinkgoHelper()
	tx, err := tdb.Begin(ctx)
	Expect(err).NotTo(HaveOccurred())
	done := false
	end := func(commit bool) {
		if done {
			return
		}
		done = true
		if commit {
			Expect(tx.Commit(ctx)).To(Succeed())
		} else {
			Expect(tx.Rollback(ctx)).To(Succeed())
		}
	}
	// The spec's context may have ended the transaction already.
	DeferCleanup(func(ctx context.Context) { _ = tx.Rollback(ctx) })
	var id int64
	Expect(tx.QueryRow(ctx, "INSERT INTO tweets (text, user_id) VALUES ('held open', $1) RETURNING id", author).
		Scan(&id)).To(Succeed())
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
			return func(ctx context.Context, p twitter.Page) (twitter.TweetPage, error) {
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

	DescribeTable("returns a tweet whose insert commits after higher ids, exactly once, after them",
		func(ctx SpecContext, name string) {
			list := lists[name]()
			before := create(ctx, 2)
			held, end := insertHeld(ctx, &author.ID)
			after := create(ctx, 5)
			Expect(held).To(BeNumerically("<", after[0]), "the held insert has the lower id")

			f := newFollower(list, 2)
			Expect(f.catchUp(ctx)).To(Equal(7))
			Expect(f.seen).To(Equal(append(slices.Clone(before), after...)), "an open insert holds nothing back")

			end(true)
			Expect(f.catchUp(ctx)).To(Equal(7), "committed but not numbered yet: not listed")
			Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
			Expect(f.catchUp(ctx)).To(Equal(8))
			Expect(f.dups).To(BeEmpty())
			// The late tweet comes after everything listed before it.
			Expect(f.seen).To(Equal(append(append(before, after...), held)))
		},
		Entry("GET /tweets", "all tweets"),
		Entry("GET /users/{id}/tweets", "a user's tweets"),
	)

	It("lists a tweet inserted outside the store (as the previous version does) once a sweep numbers it", func(ctx SpecContext) {
		held, end := insertHeld(ctx, nil)
		end(true)
		f := newFollower(tweets.List, 10)
		Expect(f.catchUp(ctx)).To(Equal(0))
		after := create(ctx, 1)
		Expect(f.catchUp(ctx)).To(Equal(1))
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		Expect(f.catchUp(ctx)).To(Equal(2))
		Expect(f.seen).To(Equal([]int64{after[0], held}), "after what was numbered before it")
	})

	It("moves on at once past an insert that is held and then rolls back", func(ctx SpecContext) {
		_, end := insertHeld(ctx, nil)
		after := create(ctx, 3)
		f := newFollower(tweets.List, 10)
		Expect(f.catchUp(ctx)).To(Equal(3))
		end(false)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(0)))
		Expect(f.catchUp(ctx)).To(Equal(3))
		Expect(f.seen).To(Equal(after))
	})

	It("misses nothing when the cursor's tweet is deleted after commits crossed id order", func(ctx SpecContext) {
		// Two explicit transactions: a takes the lower id, b the higher
		// one, b commits first and a after it, so list order is b, a.
		a, endA := insertHeld(ctx, &author.ID)
		b, endB := insertHeld(ctx, &author.ID)
		Expect(a).To(BeNumerically("<", b))
		endB(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		endA(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))

		followers := map[string]*follower{}
		for name, newList := range lists {
			f := newFollower(newList(), 1)
			p, err := f.list(ctx, twitter.Page{Limit: 1})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(HaveLen(1))
			Expect(p.Tweets[0].ID).To(Equal(b), "%s: b committed first", name)
			Expect(p.More).To(BeTrue())
			f.cursor, f.seen, f.index[b] = p.Next, []int64{b}, true
			followers[name] = f
		}
		// Anyone allowed to deletes the tweet under the followers' cursors.
		Expect(tweets.Delete(ctx, b, &author)).To(Succeed())
		for name, f := range followers {
			Expect(f.catchUp(ctx)).To(Equal(2), name)
			Expect(f.seen).To(Equal([]int64{b, a}), name)
			Expect(f.dups).To(BeEmpty(), name)
		}
	})

	It("numbers above every position given, when the high-water mark is behind (a cutover without it)", func(ctx SpecContext) {
		ids := create(ctx, 3)
		f := newFollower(tweets.List, 10)
		Expect(f.catchUp(ctx)).To(Equal(3))
		Expect(tdb.Exec(ctx, "UPDATE tweet_order SET last_position = 0")).To(Succeed())
		more := create(ctx, 2)
		Expect(f.catchUp(ctx)).To(Equal(5))
		Expect(f.seen).To(Equal(append(ids, more...)))
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
				c, err := db.Bun().Conn(ctx)
				if err != nil {
					return err
				}
				conns = append(conns, c)
			}
			return nil
		}).WithContext(ctx).WithTimeout(time.Minute).Should(Succeed())
		tweets := store.NewTweets(db)
		list := func(ctx context.Context, p twitter.Page) (twitter.TweetPage, error) {
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
						err = db.Bun().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
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

		// Tweets inserted in explicit transactions after the last create's
		// numbering wait for a run, as they would for the sweep.
		_, err = db.AssignPositions(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(all.catchUp(ctx)).To(Equal(len(acked)))
		Expect(mine.catchUp(ctx)).To(Equal(len(ackedMine)))
		Expect(all.dups).To(BeEmpty())
		Expect(mine.dups).To(BeEmpty())
		Expect(all.seen).To(ConsistOf(acked))
		Expect(mine.seen).To(ConsistOf(ackedMine))
	})
})
