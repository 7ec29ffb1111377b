package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/apitest"
)

// createdKey is the 201 body of POST /users/{id}/keys.
type createdKey struct {
	UserID               int64  `json:"user_id"`
	APIKey               string `json:"api_key"`
	CreatedAt            string `json:"created_at"`
	PreviousKeysExpireAt string `json:"previous_keys_expire_at"`
}

func keysPath(id int64) string { return userPath(id) + "/keys" }

// rotate issues a new key for user id with key, body "" for none, and
// expects 201.
func rotate(a *fiber.App, id int64, key, body string) createdKey {
	GinkgoHelper()
	rq := req(http.MethodPost, keysPath(id)).with("X-API-Key", key)
	if body != "" {
		rq = rq.withJSON(body)
	}
	r := rq.on(a)
	Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
	Expect(r.header.Get("Cache-Control")).To(Equal("no-store"), "the only copy of a key")
	Expect(r.object()).To(apitest.MatchSchema("CreatedKey"))
	var k createdKey
	Expect(json.Unmarshal(r.body, &k)).To(Succeed())
	Expect(k.UserID).To(Equal(id))
	Expect(k.APIKey).To(MatchRegexp(apiKeyPattern))
	Expect(k.APIKey).NotTo(Equal(key))
	return k
}

// tweetAs posts a tweet with key and returns the status; a tweet created
// must have the key's owner, username, as its author.
func tweetAs(a *fiber.App, key, username string) int {
	GinkgoHelper()
	r := req(http.MethodPost, "/tweets").withJSON(tweetBody("by key")).with("X-API-Key", key).on(a)
	if r.status == http.StatusCreated {
		t := decodeTweet(r)
		Expect(t.User).NotTo(BeNil(), "a tweet with a key has an author")
		Expect(t.User.Username).To(Equal(username))
	}
	return r.status
}

// between parses the two timestamps of k and returns their distance.
func between(k createdKey) time.Duration {
	GinkgoHelper()
	created := expectRFC3339UTC(k.CreatedAt)
	expires := expectRFC3339UTC(k.PreviousKeysExpireAt)
	return expires.Sub(created)
}

var _ = Describe("API key lifecycle", func() {
	var ada, bob createdUser
	BeforeEach(func() {
		ada = createUser("ada", "ada@example.com")
		bob = createUser("bob", "bob@example.com")
	})

	Describe("POST /users/{id}/keys", func() {
		DescribeTable("issues a new key and keeps the previous one for the default overlap of 24 h",
			func(body string) {
				k := rotate(app, ada.ID, ada.APIKey, body)
				Expect(between(k)).To(Equal(24 * time.Hour))
				for _, key := range []string{ada.APIKey, k.APIKey} {
					Expect(tweetAs(app, key, "ada")).To(Equal(http.StatusCreated))
				}
			},
			Entry("without a body", ""),
			Entry("with an empty object", `{}`),
			Entry("with previous_keys null", `{"previous_keys":null}`),
			Entry("with previous_keys overlap", `{"previous_keys":"overlap"}`),
		)

		It("takes the overlap from its configuration, and the previous key stops working when it ends", func() {
			const overlap = 300 * time.Millisecond
			short := httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB), APIKeyOverlap: overlap})
			k := rotate(short, ada.ID, ada.APIKey, "")
			Expect(between(k)).To(Equal(overlap))
			Eventually(func() int {
				return tweetAs(short, ada.APIKey, "ada")
			}).WithTimeout(5 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusUnauthorized))
			Expect(tweetAs(short, k.APIKey, "ada")).To(Equal(http.StatusCreated))
		})

		It(`revokes the previous keys at once with "previous_keys": "revoke"`, func() {
			k1 := rotate(app, ada.ID, ada.APIKey, "")
			k2 := rotate(app, ada.ID, k1.APIKey, `{"previous_keys":"revoke"}`)
			Expect(between(k2)).To(BeZero())
			for _, old := range []string{ada.APIKey, k1.APIKey} {
				r := req(http.MethodPost, "/tweets").withJSON(tweetBody("leaked")).with("X-API-Key", old).send()
				expectProblem(r, http.StatusUnauthorized)
			}
			Expect(tweetAs(app, k2.APIKey, "ada")).To(Equal(http.StatusCreated))
			Expect(tweetAs(app, bob.APIKey, "bob")).To(Equal(http.StatusCreated), "nobody else's key is touched")
		})

		It("revokes for that request only: the next rotation keeps the overlap again", func() {
			k1 := rotate(app, ada.ID, ada.APIKey, `{"previous_keys":"revoke"}`)
			Expect(between(k1)).To(BeZero())
			k2 := rotate(app, bob.ID, bob.APIKey, "")
			Expect(between(k2)).To(Equal(24*time.Hour), "another user's rotation on the same server")
			k3 := rotate(app, ada.ID, k1.APIKey, "")
			Expect(between(k3)).To(Equal(24 * time.Hour))
			Expect(tweetAs(app, k1.APIKey, "ada")).To(Equal(http.StatusCreated))
		})

		It("refuses a superseded key still in its overlap with 403: it may tweet, but not issue keys or delete the account", func() {
			k := rotate(app, ada.ID, ada.APIKey, "")
			for _, body := range []string{"", `{"previous_keys":"revoke"}`} {
				rq := req(http.MethodPost, keysPath(ada.ID)).with("X-API-Key", ada.APIKey)
				if body != "" {
					rq = rq.withJSON(body)
				}
				p := expectProblem(rq.send(), http.StatusForbidden)
				Expect(p["detail"]).To(ContainSubstring("current key"))
			}
			p := expectProblem(req(http.MethodDelete, userPath(ada.ID)).with("X-API-Key", ada.APIKey).send(), http.StatusForbidden)
			Expect(p["detail"]).To(ContainSubstring("current key"))

			Expect(get(userPath(ada.ID)).status).To(Equal(http.StatusOK), "the account is still there")
			Expect(tweetAs(app, k.APIKey, "ada")).To(Equal(http.StatusCreated), "the owner's key still works")
			Expect(tweetAs(app, ada.APIKey, "ada")).To(Equal(http.StatusCreated), "the superseded key still tweets in its overlap")
			var n int
			Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE user_id = $1", ada.ID).Scan(&n)).To(Succeed())
			Expect(n).To(Equal(2), "no key was issued")
		})

		It("lets exactly one of several revoking rotations with one key succeed; the others hold a revoked key", func() {
			const n = 6
			results := make([]result, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					defer GinkgoRecover()
					results[i] = req(http.MethodPost, keysPath(ada.ID)).withJSON(`{"previous_keys":"revoke"}`).
						with("X-API-Key", ada.APIKey).send()
				})
			}
			wg.Wait()
			var issued []string
			for _, r := range results {
				if r.status == http.StatusCreated {
					var k createdKey
					Expect(json.Unmarshal(r.body, &k)).To(Succeed())
					issued = append(issued, k.APIKey)
					continue
				}
				expectProblem(r, http.StatusUnauthorized)
			}
			Expect(issued).To(HaveLen(1))
			Expect(tweetAs(app, issued[0], "ada")).To(Equal(http.StatusCreated))
		})

		DescribeTable("refuses what it cannot do, changing nothing",
			func(path func() string, key func() string, contentType, body string, status int, fields ...string) {
				rq := req(http.MethodPost, path())
				if k := key(); k != "" {
					rq = rq.with("X-API-Key", k)
				}
				if body != "" {
					rq = rq.withJSON(body).with("Content-Type", contentType)
				}
				r := rq.send()
				expectProblem(r, status, fields...)
				Expect(tweetAs(app, ada.APIKey, "ada")).To(Equal(http.StatusCreated), "the key still works")
				var n int
				Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE expires_at IS NOT NULL").Scan(&n)).To(Succeed())
				Expect(n).To(BeZero(), "no key was set to expire")
			},
			Entry("without a key", func() string { return keysPath(ada.ID) }, func() string { return "" },
				"", "", http.StatusUnauthorized),
			Entry("with an unknown key", func() string { return keysPath(ada.ID) }, func() string { return "tw_" + strings.Repeat("A", 43) },
				"", "", http.StatusUnauthorized),
			Entry("for another user", func() string { return keysPath(bob.ID) }, func() string { return ada.APIKey },
				"", "", http.StatusForbidden),
			Entry("for a user that does not exist", func() string { return keysPath(9_000_000) }, func() string { return ada.APIKey },
				"", "", http.StatusForbidden),
			Entry("with a malformed id", func() string { return "/users/ada/keys" }, func() string { return ada.APIKey },
				"", "", http.StatusBadRequest, "id"),
			Entry("with an unknown previous_keys", func() string { return keysPath(ada.ID) }, func() string { return ada.APIKey },
				"application/json", `{"previous_keys":"forever"}`, http.StatusUnprocessableEntity, "previous_keys"),
			Entry("with previous_keys not a string", func() string { return keysPath(ada.ID) }, func() string { return ada.APIKey },
				"application/json", `{"previous_keys":true}`, http.StatusUnprocessableEntity, "previous_keys"),
			Entry("with an unknown field", func() string { return keysPath(ada.ID) }, func() string { return ada.APIKey },
				"application/json", `{"overlap":"1h"}`, http.StatusUnprocessableEntity, "overlap"),
			Entry("with malformed JSON", func() string { return keysPath(ada.ID) }, func() string { return ada.APIKey },
				"application/json", `{"previous_keys":`, http.StatusBadRequest),
			Entry("with a body that is not JSON", func() string { return keysPath(ada.ID) }, func() string { return ada.APIKey },
				"text/plain", `revoke`, http.StatusUnsupportedMediaType),
		)
	})

	Describe("DELETE /users/{id}/keys/current", func() {
		It("revokes the previous key it is sent with, at once, and keeps the current one", func() {
			k := rotate(app, ada.ID, ada.APIKey, "")
			r := req(http.MethodDelete, keysPath(ada.ID)+"/current").with("X-API-Key", ada.APIKey).send()
			Expect(r.status).To(Equal(http.StatusNoContent), "response: %s", r)
			Expect(r.body).To(BeEmpty())
			Expect(tweetAs(app, ada.APIKey, "ada")).To(Equal(http.StatusUnauthorized))
			Expect(tweetAs(app, k.APIKey, "ada")).To(Equal(http.StatusCreated))
			expectProblem(req(http.MethodDelete, keysPath(ada.ID)+"/current").with("X-API-Key", ada.APIKey).send(),
				http.StatusUnauthorized)
		})

		It("refuses to revoke the current key alone with 409, which would leave the account without a key", func() {
			p := expectProblem(req(http.MethodDelete, keysPath(ada.ID)+"/current").with("X-API-Key", ada.APIKey).send(),
				http.StatusConflict)
			Expect(p["detail"]).To(ContainSubstring("POST /users/{id}/keys"))
			Expect(tweetAs(app, ada.APIKey, "ada")).To(Equal(http.StatusCreated))
		})

		It("acts only for the key's own user", func() {
			rotate(app, ada.ID, ada.APIKey, "")
			expectProblem(req(http.MethodDelete, keysPath(ada.ID)+"/current").send(), http.StatusUnauthorized)
			expectProblem(req(http.MethodDelete, keysPath(ada.ID)+"/current").with("X-API-Key", bob.APIKey).send(), http.StatusForbidden)
			expectProblem(req(http.MethodDelete, "/users/0/keys/current").with("X-API-Key", ada.APIKey).send(), http.StatusBadRequest, "id")
			Expect(tweetAs(app, ada.APIKey, "ada")).To(Equal(http.StatusCreated), "the previous key is still in its overlap")
		})
	})

	Describe("DELETE /users/{id}", func() {
		It("deletes the account, its keys and its tweets, and nothing of anyone else", func() {
			mine := createTweet("ada's", ada.APIKey)
			k := rotate(app, ada.ID, ada.APIKey, "")
			theirs := createTweet("bob's", bob.APIKey)
			anon := createTweet("nobody's", "")

			r := req(http.MethodDelete, userPath(ada.ID)).with("X-API-Key", k.APIKey).send()
			Expect(r.status).To(Equal(http.StatusNoContent), "response: %s", r)

			expectProblem(get(userPath(ada.ID)), http.StatusNotFound)
			expectProblem(get(userPath(ada.ID)+"/tweets"), http.StatusNotFound)
			expectProblem(get(tweetPath(mine.ID)), http.StatusNotFound)
			for _, key := range []string{ada.APIKey, k.APIKey} {
				Expect(tweetAs(app, key, "ada")).To(Equal(http.StatusUnauthorized))
			}
			Expect(ids(get("/tweets"))).To(ConsistOf(theirs.ID, anon.ID))
			Expect(tweetAs(app, bob.APIKey, "bob")).To(Equal(http.StatusCreated))
			// The username is free again.
			createUser("ada", "ada@example.com")
		})

		It("acts only for the account's own user", func() {
			expectProblem(req(http.MethodDelete, userPath(ada.ID)).send(), http.StatusUnauthorized)
			expectProblem(req(http.MethodDelete, userPath(ada.ID)).with("X-API-Key", bob.APIKey).send(), http.StatusForbidden)
			expectProblem(req(http.MethodDelete, "/users/x").with("X-API-Key", ada.APIKey).send(), http.StatusBadRequest, "id")
			Expect(get(userPath(ada.ID)).status).To(Equal(http.StatusOK))
		})
	})
})
