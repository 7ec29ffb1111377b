package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
	Describe("Create and Get", func() {
		It("stores an anonymous tweet", func(ctx SpecContext) {
			t, err := tweets.Create(ctx, "hello", nil)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.ID).To(BeNumerically(">", 0))
			Expect(t.Author).To(BeNil())
			Expect(t.CreatedAt).To(BeTemporally("~", time.Now(), 5*time.Second))
			Expect(t.CreatedAt.Location()).To(Equal(time.UTC))

			got, err := tweets.Get(ctx, t.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(t))
		})

		It("stores the author and returns it on read", func(ctx SpecContext) {
			u, _ := newUser(ctx, "ada")
			t, err := tweets.Create(ctx, "mine", &u)
			Expect(err).NotTo(HaveOccurred())
			got, err := tweets.Get(ctx, t.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Author).To(Equal(&twitter.Author{ID: u.ID, Username: "ada"}))
		})

		It("reports a missing tweet as ErrNotFound", func(ctx SpecContext) {
			_, err := tweets.Get(ctx, 12345)
			Expect(err).To(MatchError(twitter.ErrNotFound))
		})

		It("refuses an author deleted meanwhile as an unknown API key", func(ctx SpecContext) {
			u, _ := newUser(ctx, "ghost")
			Expect(tdb.Exec(ctx, "DELETE FROM users WHERE id = $1", u.ID)).To(Succeed())
			_, err := tweets.Create(ctx, "ghost", &u)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			Expect(err).NotTo(MatchError(twitter.ErrNotFound))
		})

		It("reports a constraint the method does not expect as a plain error naming it for the log", func(ctx SpecContext) {
			Expect(tdb.Exec(ctx, "CREATE UNIQUE INDEX tweets_text_probe_key ON tweets (text)")).To(Succeed())
			DeferCleanup(func(ctx context.Context) {
				Expect(tdb.Exec(ctx, "DROP INDEX tweets_text_probe_key")).To(Succeed())
			})
			_, err := tweets.Create(ctx, "same", nil)
			Expect(err).NotTo(HaveOccurred())
			_, err = tweets.Create(ctx, "same", nil)
			Expect(err).To(MatchError(ContainSubstring("tweets_text_probe_key")))
			var conflict *twitter.ConflictError
			Expect(errors.As(err, &conflict)).To(BeFalse(), "not a conflict the API would explain: %v", err)
			for _, domain := range []error{twitter.ErrNotFound, twitter.ErrUnauthorized, twitter.ErrForbidden, twitter.ErrUnavailable} {
				Expect(errors.Is(err, domain)).To(BeFalse(), "%v is %v", err, domain)
			}
		})

		It("keeps every acknowledged tweet under concurrent creates", func(ctx SpecContext) {
			const n = 64
			var wg sync.WaitGroup
			ids := make(chan int64, n)
			for i := range n {
				wg.Go(func() {
					defer GinkgoRecover()
					t, err := tweets.Create(ctx, fmt.Sprintf("tweet %d", i), nil)
					Expect(err).NotTo(HaveOccurred())
					ids <- t.ID
				})
			}
			wg.Wait()
			close(ids)
			seen := map[int64]bool{}
			for id := range ids {
				Expect(seen).NotTo(HaveKey(id))
				seen[id] = true
				_, err := tweets.Get(ctx, id)
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(seen).To(HaveLen(n))
		})
	})

	Describe("Update and Delete", func() {
		var (
			owner, other twitter.User
			owned, anon  twitter.Tweet
		)

		BeforeEach(func(ctx SpecContext) {
			owner, _ = newUser(ctx, "owner")
			other, _ = newUser(ctx, "other")
			var err error
			owned, err = tweets.Create(ctx, "owned", &owner)
			Expect(err).NotTo(HaveOccurred())
			anon, err = tweets.Create(ctx, "anon", nil)
			Expect(err).NotTo(HaveOccurred())
		})

		It("lets the author update and moves updated_at", func(ctx SpecContext) {
			t, err := tweets.Update(ctx, owned.ID, "changed", &owner)
			Expect(err).NotTo(HaveOccurred())
			Expect(t.Text).To(Equal("changed"))
			Expect(t.Author).To(Equal(&twitter.Author{ID: owner.ID, Username: "owner"}))
			Expect(t.UpdatedAt).To(BeTemporally(">", owned.UpdatedAt))
			Expect(t.CreatedAt).To(Equal(owned.CreatedAt))
			got, _ := tweets.Get(ctx, owned.ID)
			Expect(got.Text).To(Equal("changed"))
		})

		It("refuses anonymous and foreign changes to an owned tweet", func(ctx SpecContext) {
			_, err := tweets.Update(ctx, owned.ID, "x", nil)
			Expect(err).To(MatchError(twitter.ErrUnauthorized))
			_, err = tweets.Update(ctx, owned.ID, "x", &other)
			Expect(err).To(MatchError(twitter.ErrForbidden))
			Expect(tweets.Delete(ctx, owned.ID, nil)).To(MatchError(twitter.ErrUnauthorized))
			Expect(tweets.Delete(ctx, owned.ID, &other)).To(MatchError(twitter.ErrForbidden))
			got, err := tweets.Get(ctx, owned.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Text).To(Equal("owned"))
		})

		It("lets anyone change an anonymous tweet", func(ctx SpecContext) {
			_, err := tweets.Update(ctx, anon.ID, "by anyone", nil)
			Expect(err).NotTo(HaveOccurred())
			_, err = tweets.Update(ctx, anon.ID, "by other", &other)
			Expect(err).NotTo(HaveOccurred())
			Expect(tweets.Delete(ctx, anon.ID, &other)).To(Succeed())
			_, err = tweets.Get(ctx, anon.ID)
			Expect(err).To(MatchError(twitter.ErrNotFound))
		})

		It("lets the author delete", func(ctx SpecContext) {
			Expect(tweets.Delete(ctx, owned.ID, &owner)).To(Succeed())
			Expect(tweets.Delete(ctx, owned.ID, &owner)).To(MatchError(twitter.ErrNotFound))
		})

		It("reports a missing tweet as ErrNotFound", func(ctx SpecContext) {
			_, err := tweets.Update(ctx, 999, "x", &owner)
			Expect(err).To(MatchError(twitter.ErrNotFound))
			_, err = tweets.Update(ctx, 999, "x", nil)
			Expect(err).To(MatchError(twitter.ErrNotFound))
			Expect(tweets.Delete(ctx, 999, nil)).To(MatchError(twitter.ErrNotFound))
		})

		It("keeps ownership under concurrent changes: each of many writers either changes or is refused", func(ctx SpecContext) {
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					defer GinkgoRecover()
					actor := &owner
					if i%2 == 1 {
						actor = &other
					}
					_, err := tweets.Update(ctx, owned.ID, fmt.Sprintf("v%d", i), actor)
					if actor == &other {
						Expect(err).To(MatchError(twitter.ErrForbidden))
					} else {
						Expect(err).NotTo(HaveOccurred())
					}
				})
			}
			wg.Wait()
			got, err := tweets.Get(ctx, owned.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.Text).To(MatchRegexp(`^v\d*[02468]$`))
			Expect(got.Author).To(Equal(&twitter.Author{ID: owner.ID, Username: "owner"}))
		})
	})
})
