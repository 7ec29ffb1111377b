package store_test

import (
	"context"
	"net/url"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
	Describe("when the database goes away", func() {
		var (
			proxy *testdb.Proxy
			db    *store.DB
		)

		BeforeEach(func() {
			proxy, db = tdb.Proxied()
		})

		It("reports ErrUnavailable, then recovers on its own", func(ctx SpecContext) {
			s := store.NewTweets(db)
			t, err := s.Create(ctx, "before", nil)
			Expect(err).NotTo(HaveOccurred())

			proxy.Down()
			_, err = s.Get(ctx, t.ID)
			Expect(err).To(MatchError(twitter.ErrUnavailable))
			Expect(db.Ping(ctx)).To(MatchError(twitter.ErrUnavailable))

			Expect(proxy.Up()).To(Succeed())
			Eventually(func(ctx context.Context) (string, error) {
				got, err := s.Get(ctx, t.ID)
				return got.Text, err
			}).WithContext(ctx).Should(Equal("before"))
		})

		It("reports a refused login or a missing database as ErrUnavailable, not a bug", func(ctx SpecContext) {
			u, err := url.Parse(tdb.DSN)
			Expect(err).NotTo(HaveOccurred())
			u.User = url.UserPassword(u.User.Username(), "not-the-password")
			wrongPassword := u.String()
			u, _ = url.Parse(tdb.DSN)
			u.Path = "/no_such_database"
			for _, dsn := range []string{wrongPassword, u.String()} {
				bad, err := store.Open(dsn, store.Options{MaxOpenConns: 1})
				Expect(err).NotTo(HaveOccurred())
				_, err = store.NewTweets(bad).Get(ctx, 1)
				Expect(err).To(MatchError(twitter.ErrUnavailable), dsn)
				Expect(bad.Close()).To(Succeed())
			}
		})

		It("runs under the caller's deadline: a query that outlives it is ErrUnavailable", func(ctx SpecContext) {
			proxy.Down()
			Expect(proxy.Up()).To(Succeed())
			proxy.SetDelay(3 * time.Second)
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := store.NewTweets(db).Get(short, 1)
			Expect(err).To(MatchError(twitter.ErrUnavailable))
			Expect(time.Since(start)).To(BeNumerically("<", 2*time.Second), "the caller's deadline, not one of the store's")
		})

		It("has no deadline of its own: a slow database within the caller's budget still answers", func(ctx SpecContext) {
			s := store.NewTweets(db)
			t, err := s.Create(ctx, "slow but fine", nil)
			Expect(err).NotTo(HaveOccurred())
			proxy.Stall()
			got := make(chan error, 1)
			go func() { _, err := s.Get(ctx, t.ID); got <- err }()
			Consistently(got).WithTimeout(300 * time.Millisecond).ShouldNot(Receive())
			proxy.Resume()
			Eventually(got).WithContext(ctx).Should(Receive(BeNil()))
		})
	})
})
