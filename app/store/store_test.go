package store_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
	var (
		tweets *store.Tweets
		users  *store.Users
	)

	BeforeEach(func() {
		tweets = store.NewTweets(tdb.DB)
		users = store.NewUsers(tdb.DB)
	})

	newUser := func(ctx context.Context, name string) (twitter.User, string) {
		key, hash := twitter.NewAPIKey()
		u, err := users.Create(ctx, twitter.NewUser{Username: name, Email: name + "@example.com"}, hash)
		Expect(err).NotTo(HaveOccurred())
		return u, key
	}

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

	Describe("List", func() {
		BeforeEach(func(ctx SpecContext) {
			for i := 1; i <= 5; i++ {
				_, err := tweets.Create(ctx, fmt.Sprintf("t%d", i), nil)
				Expect(err).NotTo(HaveOccurred())
			}
		})

		texts := func(ts []twitter.Tweet) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				out[i] = t.Text
			}
			return out
		}

		It("pages through all tweets in id order, by cursor and by the deprecated after_id", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 2})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t1", "t2"}))
			Expect(p.More).To(BeTrue())

			byID, err := tweets.List(ctx, twitter.Page{Limit: 2, AfterID: p.Tweets[1].ID})
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t3", "t4"}))
			Expect(p.More).To(BeTrue())
			Expect(byID).To(Equal(p), "after_id gives the same page and cursor")

			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t5"}))
			Expect(p.More).To(BeFalse())

			last := p.Next
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: last})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.Next).To(Equal(last), "an empty page keeps the cursor")
			_, err = tweets.Create(ctx, "t6", nil)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: last})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t6"}), "a poll from the last cursor")
		})

		It("refuses a malformed or forged cursor with ErrBadCursor", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 1})
			Expect(err).NotTo(HaveOccurred())
			raw, err := base64.RawURLEncoding.DecodeString(p.Next)
			Expect(err).NotTo(HaveOccurred())
			forged := bytes.Clone(raw)
			forged[7]++ // another position, the old signature
			flipped := bytes.Clone(raw)
			flipped[len(flipped)-1] ^= 1
			for _, c := range []string{
				"x", "not a cursor", p.Next + "A", p.Next[1:], strings.Repeat("A", 5000), "!!!!" + p.Next[4:],
				base64.RawURLEncoding.EncodeToString(forged),
				base64.RawURLEncoding.EncodeToString(flipped),
				base64.RawURLEncoding.EncodeToString(make([]byte, 24)),
			} {
				_, err := tweets.List(ctx, twitter.Page{Limit: 1, Cursor: c})
				Expect(err).To(MatchError(twitter.ErrBadCursor), c)
			}
		})

		It("keeps a cursor's place when its tweet is deleted or changed", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 2})
			Expect(err).NotTo(HaveOccurred())
			Expect(tweets.Delete(ctx, p.Tweets[1].ID, nil)).To(Succeed())
			_, err = tweets.Update(ctx, p.Tweets[0].ID, "changed", nil)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 10, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t3", "t4", "t5"}))
		})

		It("says no more when the page is exactly full", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 5})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(HaveLen(5))
			Expect(p.More).To(BeFalse())
		})

		It("returns an empty page past the end", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 5, AfterID: 1 << 62})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.More).To(BeFalse())
		})

		It("lists one user's tweets only", func(ctx SpecContext) {
			u, _ := newUser(ctx, "grace")
			_, err := tweets.Create(ctx, "g1", &u)
			Expect(err).NotTo(HaveOccurred())
			p, err := tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"g1"}))
			Expect(p.More).To(BeFalse())
		})

		It("reports an unknown user as ErrNotFound", func(ctx SpecContext) {
			_, err := tweets.ListByUser(ctx, 4242, twitter.Page{Limit: 10})
			Expect(err).To(MatchError(twitter.ErrNotFound))
		})

		It("refuses an invalid page with a ValidationError, never querying with it", func(ctx SpecContext) {
			u, _ := newUser(ctx, "pager")
			for _, p := range []twitter.Page{{}, {Limit: -1}, {Limit: twitter.MaxPageLimit + 1}, {Limit: 1, AfterID: -1}, {Limit: 1, AfterID: 1, Cursor: "x"}} {
				var verr *twitter.ValidationError
				_, err := tweets.List(ctx, p)
				Expect(errors.As(err, &verr)).To(BeTrue(), "List(%+v): %v", p, err)
				_, err = tweets.ListByUser(ctx, u.ID, p)
				Expect(errors.As(err, &verr)).To(BeTrue(), "ListByUser(%+v): %v", p, err)
			}
		})

		It("returns an empty page, not ErrNotFound, for a user without tweets or past their last", func(ctx SpecContext) {
			u, _ := newUser(ctx, "quiet")
			p, err := tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.More).To(BeFalse())
			_, err = tweets.Create(ctx, "q1", &u)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10, AfterID: 1 << 62})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
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

	Describe("Users", func() {
		It("creates and reads a user", func(ctx SpecContext) {
			u, _ := newUser(ctx, "Linus")
			got, err := users.Get(ctx, u.ID)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(u))
			Expect(got.Username).To(Equal("Linus"))
		})

		It("rejects a username taken in another case", func(ctx SpecContext) {
			newUser(ctx, "Linus")
			_, hash := twitter.NewAPIKey()
			_, err := users.Create(ctx, twitter.NewUser{Username: "LINUS", Email: "other@example.com"}, hash)
			Expect(err).To(MatchError(&twitter.ConflictError{Field: "username"}))
		})

		It("rejects an email taken in another case", func(ctx SpecContext) {
			newUser(ctx, "linus")
			_, hash := twitter.NewAPIKey()
			_, err := users.Create(ctx, twitter.NewUser{Username: "torvalds", Email: "LINUS@EXAMPLE.COM"}, hash)
			Expect(err).To(MatchError(&twitter.ConflictError{Field: "email"}))
		})

		It("finds a user by API key and refuses others", func(ctx SpecContext) {
			u, key := newUser(ctx, "keyed")
			got, err := users.ByAPIKey(ctx, key)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.ID).To(Equal(u.ID))

			unknown, _ := twitter.NewAPIKey()
			_, err = users.ByAPIKey(ctx, unknown)
			Expect(err).To(MatchError(twitter.ErrUnauthorized))
			_, err = users.ByAPIKey(ctx, "garbage")
			Expect(err).To(MatchError(twitter.ErrUnauthorized))
		})

		It("stores the key's hash, never the key: as the current key, and for the version before api_keys", func(ctx SpecContext) {
			u, key := newUser(ctx, "hashed")
			var stored []byte
			Expect(tdb.QueryRow(ctx, "SELECT api_key_hash FROM users WHERE id = $1", u.ID).Scan(&stored)).To(Succeed())
			Expect(stored).To(Equal(twitter.HashAPIKey(key)))
			var (
				keys      int
				hash      []byte
				expiresAt *time.Time
			)
			Expect(tdb.QueryRow(ctx, "SELECT count(*) OVER (), hash, expires_at FROM api_keys WHERE user_id = $1", u.ID).
				Scan(&keys, &hash, &expiresAt)).To(Succeed())
			Expect(keys).To(Equal(1))
			Expect(hash).To(Equal(twitter.HashAPIKey(key)))
			Expect(expiresAt).To(BeNil(), "the current key does not expire")
			for table, want := range map[string][]string{
				"users":    {"id", "username", "email", "api_key_hash", "created_at"},
				"api_keys": {"id", "user_id", "hash", "created_at", "expires_at"},
			} {
				var cols []string
				Expect(tdb.QueryRow(ctx, "SELECT array_agg(column_name::text) FROM information_schema.columns WHERE table_name = $1",
					table).Scan(&cols)).To(Succeed())
				Expect(cols).To(ConsistOf(want), table)
			}
		})

		It("reports a missing user as ErrNotFound", func(ctx SpecContext) {
			_, err := users.Get(ctx, 31337)
			Expect(err).To(MatchError(twitter.ErrNotFound))
		})

		It("accepts the key of a user the version before api_keys created during a rollout", func(ctx SpecContext) {
			key, hash := twitter.NewAPIKey()
			// That version's insert: users.api_key_hash only.
			var id int64
			Expect(tdb.QueryRow(ctx, "INSERT INTO users (username, email, api_key_hash) VALUES ('older', 'older@example.com', $1) RETURNING id",
				hash).Scan(&id)).To(Succeed())
			got, err := users.ByAPIKey(ctx, key)
			Expect(err).NotTo(HaveOccurred())
			Expect(got.ID).To(Equal(id))
			fresh, newHash := twitter.NewAPIKey()
			_, err = users.RotateKey(ctx, id, key, newHash, 0)
			Expect(err).NotTo(HaveOccurred())
			Expect(users.ByAPIKey(ctx, fresh)).To(HaveField("ID", id))
		})
	})

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
