package httpapi_test

import (
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
)

var _ = Describe("tweets", func() {
	Describe("POST /tweets", func() {
		It("creates an anonymous tweet: 201, Location, the tweet with RFC 3339 UTC times and a null user", func() {
			r := postJSON("/tweets", `{"text":"Hello, world!"}`)
			Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
			Expect(r.header.Get("Content-Type")).To(HavePrefix("application/json"))
			body := r.object()
			Expect(body).To(apitest.MatchSchema("Tweet"))
			Expect(body).To(HaveKeyWithValue("text", "Hello, world!"))
			Expect(body).To(HaveKeyWithValue("user", BeNil()))
			id, ok := body["id"].(float64)
			Expect(ok).To(BeTrue())
			Expect(id).To(BeNumerically(">", 0))
			Expect(r.header.Get("Location")).To(Equal(tweetPath(int64(id))))
			created := expectRFC3339UTC(body["created_at"])
			updated := expectRFC3339UTC(body["updated_at"])
			Expect(updated).To(Equal(created))

			got := get(r.header.Get("Location"))
			Expect(got.status).To(Equal(http.StatusOK))
			Expect(got.object()).To(Equal(body))
		})

		It("makes the owner of X-API-Key the author", func() {
			u := createUser("ada_lovelace", "ada@example.com")
			t := createTweet("first!", u.APIKey)
			Expect(t.User).To(Equal(&tweetBy{ID: u.ID, Username: "ada_lovelace"}))

			got := decodeTweet(get(tweetPath(t.ID)))
			Expect(got).To(Equal(t))
		})

		DescribeTable("refuses an X-API-Key that belongs to nobody with 401, storing nothing",
			func(key func() string) {
				r := req(http.MethodPost, "/tweets").withJSON(tweetBody("hi")).with("X-API-Key", key()).send()
				expectProblem(r, http.StatusUnauthorized)
				Expect(r.header.Get("WWW-Authenticate")).To(ContainSubstring("X-API-Key"))
				Expect(get("/tweets").body).To(MatchJSON(`[]`))
			},
			Entry("well-formed but unknown", func() string { return "tw_" + strings.Repeat("A", 43) }),
			Entry("a real user's key with one character changed", func() string {
				k := createUser("grace", "grace@example.com").APIKey
				last := k[len(k)-1]
				repl := "A"
				if last == 'A' {
					repl = "B"
				}
				return k[:len(k)-1] + repl
			}),
			Entry("malformed: no prefix", func() string { return "not-a-key" }),
			Entry("malformed: too short", func() string { return "tw_abc" }),
			Entry("malformed: not base64url", func() string { return "tw_" + strings.Repeat("!", 43) }),
			Entry("malformed: a real key with a suffix", func() string {
				return createUser("linus", "linus@example.com").APIKey + "x"
			}),
		)
	})

	Describe("GET /tweets/{id}", func() {
		It("is 404 for a tweet that does not exist", func() {
			expectProblem(get("/tweets/12345"), http.StatusNotFound)
		})

		DescribeTable("is 400 naming id for an id that is not a positive 64-bit integer",
			func(id string) {
				for _, rq := range []request{
					req(http.MethodGet, "/tweets/"+id),
					req(http.MethodPatch, "/tweets/"+id).withJSON(tweetBody("x")),
					req(http.MethodDelete, "/tweets/"+id),
					req(http.MethodGet, "/users/"+id),
					req(http.MethodGet, "/users/"+id+"/tweets"),
				} {
					expectProblem(rq.send(), http.StatusBadRequest, "id")
				}
			},
			Entry("letters", "abc"),
			Entry("negative", "-1"),
			Entry("zero", "0"),
			Entry("a fraction", "1.5"),
			Entry("beyond int64", "9223372036854775808"),
			Entry("far beyond int64", "99999999999999999999999"),
			Entry("hex", "0x10"),
			Entry("an escaped space", "%20"),
		)
	})

	Describe("PATCH /tweets/{id}", func() {
		It("changes the text of an anonymous tweet for anyone, keeping created_at", func() {
			t := createTweet("draft", "")
			r := req(http.MethodPatch, tweetPath(t.ID)).withJSON(tweetBody("  final  ")).send()
			Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
			got := decodeTweet(r)
			Expect(got.ID).To(Equal(t.ID))
			Expect(got.Text).To(Equal("final"))
			Expect(got.User).To(BeNil())
			Expect(got.CreatedAt).To(Equal(t.CreatedAt))
			Expect(expectRFC3339UTC(got.UpdatedAt)).NotTo(BeTemporally("<", expectRFC3339UTC(t.UpdatedAt)))

			Expect(decodeTweet(get(tweetPath(t.ID)))).To(Equal(got))

			// Also with some user's key: anonymous tweets are open to all.
			k := createUser("someone", "someone@example.com").APIKey
			r = req(http.MethodPatch, tweetPath(t.ID)).withJSON(tweetBody("edited by someone")).with("X-API-Key", k).send()
			Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
			Expect(decodeTweet(get(tweetPath(t.ID))).Text).To(Equal("edited by someone"))
		})

		It("is 404 for a tweet that does not exist", func() {
			expectProblem(req(http.MethodPatch, "/tweets/999").withJSON(tweetBody("x")).send(), http.StatusNotFound)
		})
	})

	Describe("DELETE /tweets/{id}", func() {
		It("deletes an anonymous tweet for anyone: 204, then 404", func() {
			t := createTweet("bye", "")
			r := req(http.MethodDelete, tweetPath(t.ID)).send()
			Expect(r.status).To(Equal(http.StatusNoContent), "response: %s", r)
			Expect(r.body).To(BeEmpty())
			expectProblem(get(tweetPath(t.ID)), http.StatusNotFound)
			expectProblem(req(http.MethodDelete, tweetPath(t.ID)).send(), http.StatusNotFound)
			Expect(get("/tweets").body).To(MatchJSON(`[]`))
		})
	})

})
