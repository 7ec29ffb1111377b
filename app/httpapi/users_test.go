package httpapi_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
)

// apiKeyPattern is tw_ and 32 random bytes in unpadded base64url.
const apiKeyPattern = `^tw_[A-Za-z0-9_-]{43}$`

func userBody(username, email string) string {
	GinkgoHelper()
	return mustJSON(map[string]string{"username": username, "email": email})
}

var _ = Describe("users", func() {
	Describe("POST /users", func() {
		It("creates a user: 201, Location and the user with its API key", func() {
			r := postJSON("/users", userBody("ada_lovelace", "ada@example.com"))
			Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
			Expect(r.header.Get("Content-Type")).To(HavePrefix("application/json"))
			body := r.object()
			Expect(body).To(apitest.MatchSchema("CreatedUser"))
			Expect(body).To(HaveKeyWithValue("username", "ada_lovelace"))
			Expect(body).To(HaveKeyWithValue("email", "ada@example.com"))
			Expect(body).To(HaveKeyWithValue("api_key", MatchRegexp(apiKeyPattern)))
			expectRFC3339UTC(body["created_at"])
			id, ok := body["id"].(float64)
			Expect(ok).To(BeTrue())
			Expect(r.header.Get("Location")).To(Equal(userPath(int64(id))))
		})

		It("trims the username and the email", func() {
			u := createUser("  ada  ", "\tada@example.com \n")
			Expect(u.Username).To(Equal("ada"))
			Expect(u.Email).To(Equal("ada@example.com"))
		})

		It("gives every user a different key", func() {
			a := createUser("one", "one@example.com")
			b := createUser("two", "two@example.com")
			Expect(a.APIKey).NotTo(Equal(b.APIKey))
		})

		It("stores only the SHA-256 of the key, in api_keys (and users.api_key_hash), and the key nowhere", func() {
			u := createUser("secretive", "secretive@example.com")
			ctx := context.Background()

			want := sha256.Sum256([]byte(u.APIKey))
			var hash []byte
			Expect(tdb.QueryRow(ctx, "SELECT hash FROM api_keys WHERE user_id = $1", u.ID).Scan(&hash)).To(Succeed())
			Expect(hash).To(Equal(want[:]))
			Expect(tdb.QueryRow(ctx, "SELECT api_key_hash FROM users WHERE id = $1", u.ID).Scan(&hash)).To(Succeed())
			Expect(hash).To(Equal(want[:]))

			// Every column of the row, as text: the key is in none of them.
			var row string
			Expect(tdb.QueryRow(ctx, "SELECT row_to_json(u)::text FROM users u WHERE id = $1", u.ID).Scan(&row)).To(Succeed())
			Expect(row).To(ContainSubstring("secretive@example.com"), "the row should be readable as text")
			Expect(row).NotTo(ContainSubstring(u.APIKey))
			Expect(row).NotTo(ContainSubstring(strings.TrimPrefix(u.APIKey, "tw_")))

			// Nor in any table of the database.
			var hits int
			Expect(tdb.QueryRow(ctx, `SELECT
				(SELECT count(*) FROM users u WHERE strpos(row_to_json(u)::text, $1) > 0) +
				(SELECT count(*) FROM api_keys k WHERE strpos(row_to_json(k)::text, $1) > 0) +
				(SELECT count(*) FROM tweets t WHERE strpos(row_to_json(t)::text, $1) > 0)`,
				strings.TrimPrefix(u.APIKey, "tw_")).Scan(&hits)).To(Succeed())
			Expect(hits).To(BeZero())
		})

		It("accepts usernames of exactly 3 and 30 characters", func() {
			createUser("abc", "abc@example.com")
			createUser(strings.Repeat("x", 30), "thirty@example.com")
		})

		It("refuses a username taken in another case with 409 naming username", func() {
			createUser("Ada_Lovelace", "ada@example.com")
			expectProblem(postJSON("/users", userBody("ada_LOVELACE", "other@example.com")), http.StatusConflict, "username")
		})

		It("refuses an email taken in another case with 409 naming email", func() {
			createUser("ada", "Ada@Example.com")
			expectProblem(postJSON("/users", userBody("grace", "ADA@EXAMPLE.COM")), http.StatusConflict, "email")
		})

		It("refuses an email that looks the same as a taken one (NFC) with 409, and stores it in NFC", func() {
			composed := createUser("rene", "ren\u00e9@example.com")
			Expect(composed.Email).To(Equal("ren\u00e9@example.com"))
			expectProblem(postJSON("/users", userBody("rene_two", "rene\u0301@example.com")), http.StatusConflict, "email")
			decomposedFirst := createUser("zoe", "zoe\u0308@example.com")
			Expect(decomposedFirst.Email).To(Equal("zo\u00eb@example.com"), "stored in NFC")
			expectProblem(postJSON("/users", userBody("zoe_two", "ZO\u00cb@example.com")), http.StatusConflict, "email")
		})

		It("refuses a username or an email with a control or bidirectional override character", func() {
			expectProblem(postJSON("/users", `{"username":"bad\u0007name","email":"a@example.com"}`), http.StatusUnprocessableEntity, "username")
			expectProblem(postJSON("/users", `{"username":"good_name","email":"\u202eoc.elpmaxe@a"}`), http.StatusUnprocessableEntity, "email")
		})

		It("lets exactly one of 10 concurrent registrations of one name succeed; the rest are 409", func() {
			const n = 10
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					defer GinkgoRecover()
					name := "Same_Name"
					if i%2 == 1 {
						name = "same_name"
					}
					results[i] = postJSON("/users", userBody(name, fmt.Sprintf("u%d@example.com", i)))
				})
			}
			wg.Wait()
			created := 0
			for _, r := range results {
				if r.status == http.StatusCreated {
					created++
					continue
				}
				expectProblem(r, http.StatusConflict, "username")
			}
			Expect(created).To(Equal(1))
		})

		DescribeTable("refuses invalid input with 422 naming the fields",
			func(body string, fields ...string) {
				expectProblem(postJSON("/users", body), http.StatusUnprocessableEntity, fields...)
				var n int
				Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n)).To(Succeed())
				Expect(n).To(BeZero())
			},
			Entry("username too short", userBody("ab", "a@example.com"), "username"),
			Entry("username too short after trimming", userBody("  ab  ", "a@example.com"), "username"),
			Entry("username too long", userBody(strings.Repeat("a", 31), "a@example.com"), "username"),
			Entry("username with a hyphen", userBody("bad-name", "a@example.com"), "username"),
			Entry("username with a space", userBody("bad name", "a@example.com"), "username"),
			Entry("username with a dot", userBody("bad.name", "a@example.com"), "username"),
			Entry("username with non-ASCII letters", userBody("ünïcode", "a@example.com"), "username"),
			Entry("username with a NUL", `{"username":"abc\u0000","email":"a@example.com"}`, "username"),
			Entry("username empty", userBody("", "a@example.com"), "username"),
			Entry("username missing", `{"email":"a@example.com"}`, "username"),
			Entry("username null", `{"username":null,"email":"a@example.com"}`, "username"),
			Entry("username a number", `{"username":123,"email":"a@example.com"}`, "username"),
			Entry("username an array", `{"username":["abc"],"email":"a@example.com"}`, "username"),
			Entry("username a lone surrogate", `{"username":"abc\ud800","email":"a@example.com"}`, "username"),
			Entry("username invalid UTF-8", "{\"username\":\"abc\xff\",\"email\":\"a@example.com\"}", "username"),
			Entry("email without @", userBody("valid", "not-an-email"), "email"),
			Entry("email without a dotted domain", userBody("valid", "a@b"), "email"),
			Entry("email with a display name", userBody("valid", "Ada <ada@example.com>"), "email"),
			Entry("email in angle brackets", userBody("valid", "<ada@example.com>"), "email"),
			Entry("email with a leading dot in the domain", userBody("valid", "a@.example.com"), "email"),
			Entry("email with a trailing dot", userBody("valid", "a@example.com."), "email"),
			Entry("email with two @", userBody("valid", "a@b@example.com"), "email"),
			Entry("email without a local part", userBody("valid", "@example.com"), "email"),
			Entry("email over 254 bytes", userBody("valid", strings.Repeat("a", 64)+"@"+strings.Repeat("b", 186)+".com"), "email"),
			Entry("email empty", userBody("valid", ""), "email"),
			Entry("email only spaces", userBody("valid", "   "), "email"),
			Entry("email missing", `{"username":"valid"}`, "email"),
			Entry("email a boolean", `{"username":"valid","email":false}`, "email"),
			Entry("email an object", `{"username":"valid","email":{}}`, "email"),
			Entry("both invalid", userBody("x", "y"), "username", "email"),
			Entry("both missing", `{}`, "username", "email"),
			Entry("wrong type and invalid", `{"username":1,"email":"nope"}`, "username", "email"),
		)
	})

	Describe("GET /users/{id}", func() {
		It("shows the public profile only: never the email or the key", func() {
			u := createUser("private", "private@example.com")
			r := get(userPath(u.ID))
			Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
			Expect(r.object()).To(SatisfyAll(apitest.MatchSchema("User"),
				HaveKeyWithValue("id", float64(u.ID)),
				HaveKeyWithValue("username", "private"),
				HaveKeyWithValue("created_at", u.CreatedAt)))
			Expect(string(r.body)).NotTo(ContainSubstring("private@example.com"))
			Expect(string(r.body)).NotTo(ContainSubstring(u.APIKey))
			Expect(string(r.body)).NotTo(ContainSubstring("email"))
			Expect(string(r.body)).NotTo(ContainSubstring("api_key"))
		})

		It("is 404 for a user that does not exist", func() {
			expectProblem(get("/users/4242"), http.StatusNotFound)
		})
	})

	Describe("GET /users/{id}/tweets", func() {
		It("lists only that user's tweets, ascending, paginated with Link", func() {
			a := createUser("alice", "alice@example.com")
			b := createUser("bob", "bob@example.com")
			var want []int64
			for i := range 5 {
				want = append(want, createTweet(fmt.Sprintf("alice %d", i), a.APIKey).ID)
				createTweet(fmt.Sprintf("bob %d", i), b.APIKey)
				createTweet(fmt.Sprintf("anon %d", i), "")
			}

			r := get(userPath(a.ID) + "/tweets?limit=2")
			Expect(r.status).To(Equal(http.StatusOK))
			for _, t := range tweetList(r) {
				Expect(t.User).To(Equal(&tweetBy{ID: a.ID, Username: "alice"}))
			}
			Expect(r.header.Get("Link")).To(Equal(fmt.Sprintf(`</users/%d/tweets?limit=2&cursor=%s>; rel="next"`, a.ID, r.header.Get("Next-Cursor"))))

			var got []int64
			pages := 0
			for target := userPath(a.ID) + "/tweets?limit=2"; target != ""; pages++ {
				Expect(pages).To(BeNumerically("<", 10), "Link never ends")
				r := get(target)
				got = append(got, ids(r)...)
				target = nextLink(r)
			}
			Expect(pages).To(Equal(3))
			Expect(got).To(Equal(want))
		})

		It("returns [] for a user without tweets, and for after_id beyond the end", func() {
			u := createUser("quiet", "quiet@example.com")
			createTweet("someone else's", "")
			r := get(userPath(u.ID) + "/tweets")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(string(r.body)).To(Equal("[]"))
			Expect(r.header.Get("Link")).To(BeEmpty())

			t := createTweet("mine", u.APIKey)
			r = get(fmt.Sprintf("%s/tweets?after_id=%d", userPath(u.ID), t.ID))
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(string(r.body)).To(Equal("[]"))
		})

		It("sends no Link when the user has exactly limit tweets", func() {
			u := createUser("exact", "exact@example.com")
			want := []int64{createTweet("1", u.APIKey).ID, createTweet("2", u.APIKey).ID}
			r := get(userPath(u.ID) + "/tweets?limit=2")
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("is 404 for a user that does not exist", func() {
			createTweet("anonymous", "")
			expectProblem(get("/users/77/tweets"), http.StatusNotFound)
		})
	})
})
