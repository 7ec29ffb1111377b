package store_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
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
})
