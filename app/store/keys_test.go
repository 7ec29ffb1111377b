package store_test

import (
	"context"
	"errors"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
	Describe("API key rotation and revocation", func() {
		// keyExpiry is when a stored key expires; nil for the current key.
		keyExpiry := func(ctx context.Context, key string) *time.Time {
			var at *time.Time
			Expect(tdb.QueryRow(ctx, "SELECT expires_at FROM api_keys WHERE hash = $1", twitter.HashAPIKey(key)).
				Scan(&at)).To(Succeed())
			return at
		}
		legacyHash := func(ctx context.Context, id int64) []byte {
			var h []byte
			Expect(tdb.QueryRow(ctx, "SELECT api_key_hash FROM users WHERE id = $1", id).Scan(&h)).To(Succeed())
			return h
		}

		It("keeps the previous key working for the overlap, then not", func(ctx SpecContext) {
			u, old := newUser(ctx, "rotor")
			fresh, hash := twitter.NewAPIKey()
			rot, err := users.RotateKey(ctx, u.ID, old, hash, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(rot.CreatedAt).To(BeTemporally("~", time.Now(), 5*time.Second))
			Expect(rot.PreviousExpireAt).To(Equal(rot.CreatedAt.Add(time.Hour)))
			Expect(rot.CreatedAt.Location()).To(Equal(time.UTC))

			for _, k := range []string{old, fresh} {
				got, err := users.ByAPIKey(ctx, k)
				Expect(err).NotTo(HaveOccurred())
				Expect(got).To(Equal(u))
			}
			Expect(keyExpiry(ctx, fresh)).To(BeNil())
			Expect(keyExpiry(ctx, old)).To(HaveValue(BeTemporally("==", rot.PreviousExpireAt)))
			Expect(legacyHash(ctx, u.ID)).To(BeNil(), "the version before api_keys accepts no key once one was rotated")

			By("the overlap ending")
			Expect(tdb.Exec(ctx, "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE hash = $1", twitter.HashAPIKey(old))).
				To(Succeed())
			_, err = users.ByAPIKey(ctx, old)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			_, err = users.ByAPIKey(ctx, fresh)
			Expect(err).NotTo(HaveOccurred())

			By("the next rotation deleting the expired key")
			_, hash3 := twitter.NewAPIKey()
			_, err = users.RotateKey(ctx, u.ID, fresh, hash3, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			var n int
			Expect(tdb.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE user_id = $1", u.ID).Scan(&n)).To(Succeed())
			Expect(n).To(Equal(2), "the current key and the one still overlapping")
		})

		It("never lengthens an earlier key's overlap, and revokes every other key at once when the overlap is 0", func(ctx SpecContext) {
			u, k1 := newUser(ctx, "rotor2")
			k2, h2 := twitter.NewAPIKey()
			first, err := users.RotateKey(ctx, u.ID, k1, h2, time.Minute)
			Expect(err).NotTo(HaveOccurred())
			k3, h3 := twitter.NewAPIKey()
			_, err = users.RotateKey(ctx, u.ID, k2, h3, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(keyExpiry(ctx, k1)).To(HaveValue(BeTemporally("==", first.PreviousExpireAt)), "still a minute, not an hour")

			k4, h4 := twitter.NewAPIKey()
			rot, err := users.RotateKey(ctx, u.ID, k3, h4, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(rot.PreviousExpireAt).To(Equal(rot.CreatedAt))
			for _, k := range []string{k1, k2, k3} {
				_, err := users.ByAPIKey(ctx, k)
				Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			}
			Expect(users.ByAPIKey(ctx, k4)).To(Equal(u))
		})

		It("refuses a rotation by a key revoked meanwhile, so two at once leave one current key", func(ctx SpecContext) {
			u, k1 := newUser(ctx, "racer")
			const racers = 8
			var wg sync.WaitGroup
			results := make(chan error, racers)
			for range racers {
				wg.Go(func() {
					defer GinkgoRecover()
					_, h := twitter.NewAPIKey()
					_, err := users.RotateKey(ctx, u.ID, k1, h, 0)
					results <- err
				})
			}
			wg.Wait()
			close(results)
			var ok, refused int
			for err := range results {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, twitter.ErrUnknownAPIKey):
					refused++
				default:
					Fail("unexpected error: " + err.Error())
				}
			}
			Expect(ok).To(Equal(1), "the first revoked k1: the others used a key no longer valid")
			Expect(refused).To(Equal(racers - 1))
			var current int
			Expect(tdb.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE user_id = $1 AND expires_at IS NULL", u.ID).
				Scan(&current)).To(Succeed())
			Expect(current).To(Equal(1))
		})

		It("revokes a previous key alone, never the current one", func(ctx SpecContext) {
			u, old := newUser(ctx, "revoker")
			Expect(users.RevokeKey(ctx, u.ID, old)).To(MatchError(twitter.ErrCurrentKey))
			Expect(users.ByAPIKey(ctx, old)).To(Equal(u))

			fresh, hash := twitter.NewAPIKey()
			_, err := users.RotateKey(ctx, u.ID, old, hash, time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(users.RevokeKey(ctx, u.ID, old)).To(Succeed())
			_, err = users.ByAPIKey(ctx, old)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			Expect(users.RevokeKey(ctx, u.ID, old)).To(MatchError(twitter.ErrUnknownAPIKey))
			Expect(users.ByAPIKey(ctx, fresh)).To(Equal(u))
			Expect(users.RevokeKey(ctx, u.ID, fresh)).To(MatchError(twitter.ErrCurrentKey))
		})

		It("lets only the current key manage the account: a previous one may still tweet and end itself", func(ctx SpecContext) {
			u, old := newUser(ctx, "superseded")
			current, hash := twitter.NewAPIKey()
			_, err := users.RotateKey(ctx, u.ID, old, hash, time.Hour)
			Expect(err).NotTo(HaveOccurred())

			_, h := twitter.NewAPIKey()
			_, err = users.RotateKey(ctx, u.ID, old, h, 0)
			Expect(err).To(MatchError(twitter.ErrSupersededKey))
			Expect(err).To(MatchError(twitter.ErrForbidden))
			Expect(users.Delete(ctx, u.ID, old)).To(MatchError(twitter.ErrSupersededKey))
			Expect(users.ByAPIKey(ctx, current)).To(Equal(u), "the owner's key is untouched")
			Expect(users.ByAPIKey(ctx, old)).To(Equal(u), "still in its overlap: it reads and writes tweets")
			_, err = tweets.Create(ctx, "with the previous key", &u)
			Expect(err).NotTo(HaveOccurred())

			Expect(users.RevokeKey(ctx, u.ID, old)).To(Succeed(), "ending itself takes nothing from the owner")
			Expect(users.ByAPIKey(ctx, current)).To(Equal(u))
		})

		It("keeps at most MaxLiveKeys keys: the current one and the newest previous ones", func(ctx SpecContext) {
			u, key := newUser(ctx, "rotator")
			issued := []string{key}
			for range 3 * store.MaxLiveKeys {
				next, hash := twitter.NewAPIKey()
				_, err := users.RotateKey(ctx, u.ID, key, hash, time.Hour)
				Expect(err).NotTo(HaveOccurred())
				key = next
				issued = append(issued, key)
			}
			var n int
			Expect(tdb.QueryRow(ctx, "SELECT count(*) FROM api_keys WHERE user_id = $1", u.ID).Scan(&n)).To(Succeed())
			Expect(n).To(Equal(store.MaxLiveKeys))
			live := issued[len(issued)-store.MaxLiveKeys:]
			for _, k := range live {
				Expect(users.ByAPIKey(ctx, k)).To(Equal(u))
			}
			for _, k := range issued[:len(issued)-store.MaxLiveKeys] {
				_, err := users.ByAPIKey(ctx, k)
				Expect(err).To(MatchError(twitter.ErrUnknownAPIKey), "an older previous key ended at once")
			}
		})

		It("treats a key of a user deleted meanwhile as unknown", func(ctx SpecContext) {
			u, key := newUser(ctx, "gone")
			Expect(users.Delete(ctx, u.ID, key)).To(Succeed())
			_, hash := twitter.NewAPIKey()
			_, err := users.RotateKey(ctx, u.ID, key, hash, time.Hour)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			Expect(users.RevokeKey(ctx, u.ID, key)).To(MatchError(twitter.ErrUnknownAPIKey))
		})
	})

	Describe("deleting a user", func() {
		It("deletes its keys and its tweets, and nobody else's", func(ctx SpecContext) {
			u, key := newUser(ctx, "leaver")
			other, otherKey := newUser(ctx, "stayer")
			mine, err := tweets.Create(ctx, "mine", &u)
			Expect(err).NotTo(HaveOccurred())
			theirs, err := tweets.Create(ctx, "theirs", &other)
			Expect(err).NotTo(HaveOccurred())
			anon, err := tweets.Create(ctx, "nobody's", nil)
			Expect(err).NotTo(HaveOccurred())

			Expect(users.Delete(ctx, u.ID, key)).To(Succeed())
			_, err = users.Get(ctx, u.ID)
			Expect(err).To(MatchError(twitter.ErrNotFound))
			_, err = users.ByAPIKey(ctx, key)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
			_, err = tweets.Get(ctx, mine.ID)
			Expect(err).To(MatchError(twitter.ErrNotFound))
			Expect(tweets.Get(ctx, theirs.ID)).To(Equal(theirs))
			Expect(tweets.Get(ctx, anon.ID)).To(Equal(anon))
			Expect(users.ByAPIKey(ctx, otherKey)).To(Equal(other))
			_, err = tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10})
			Expect(err).To(MatchError(twitter.ErrNotFound))

			Expect(users.Delete(ctx, u.ID, key)).To(MatchError(twitter.ErrUnknownAPIKey), "deleted meanwhile: the key belongs to nobody")
			Expect(users.Delete(ctx, u.ID, otherKey)).To(MatchError(twitter.ErrUnknownAPIKey), "checked in the transaction, against the account's own keys")
		})

		It("refuses a tweet by a user deleted after authenticating, instead of storing it anonymous", func(ctx SpecContext) {
			u, key := newUser(ctx, "late")
			Expect(users.Delete(ctx, u.ID, key)).To(Succeed())
			_, err := tweets.Create(ctx, "after", &u)
			Expect(err).To(MatchError(twitter.ErrUnknownAPIKey))
		})
	})
})
