package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

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

	Describe("ownership of a tweet with an author", func() {
		var author, other createdUser
		var t tweet

		BeforeEach(func() {
			author = createUser("author", "author@example.com")
			other = createUser("other", "other@example.com")
			t = createTweet("mine", author.APIKey)
		})

		expectUnchanged := func() {
			GinkgoHelper()
			Expect(decodeTweet(get(tweetPath(t.ID)))).To(Equal(t))
		}

		patch := func(key string) result {
			GinkgoHelper()
			return req(http.MethodPatch, tweetPath(t.ID)).withJSON(tweetBody("hijacked")).with("X-API-Key", key).send()
		}
		del := func(key string) result {
			GinkgoHelper()
			return req(http.MethodDelete, tweetPath(t.ID)).with("X-API-Key", key).send()
		}

		It("refuses PATCH and DELETE without a key with 401", func() {
			for _, r := range []result{patch(""), del("")} {
				expectProblem(r, http.StatusUnauthorized)
				Expect(r.header.Get("WWW-Authenticate")).To(ContainSubstring("X-API-Key"))
			}
			expectUnchanged()
		})

		It("refuses PATCH and DELETE with an unknown key with 401", func() {
			expectProblem(patch("tw_"+strings.Repeat("z", 43)), http.StatusUnauthorized)
			expectProblem(del("garbage"), http.StatusUnauthorized)
			expectUnchanged()
		})

		It("refuses PATCH and DELETE with another user's key with 403", func() {
			expectProblem(patch(other.APIKey), http.StatusForbidden)
			expectProblem(del(other.APIKey), http.StatusForbidden)
			expectUnchanged()
		})

		It("lets the author PATCH, keeping the author, and then DELETE", func() {
			r := patch(author.APIKey)
			Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
			got := decodeTweet(r)
			Expect(got.Text).To(Equal("hijacked"))
			Expect(got.User).To(Equal(&tweetBy{ID: author.ID, Username: "author"}))
			Expect(decodeTweet(get(tweetPath(t.ID)))).To(Equal(got))

			Expect(del(author.APIKey).status).To(Equal(http.StatusNoContent))
			expectProblem(get(tweetPath(t.ID)), http.StatusNotFound)
		})

		It("checks the body before ownership: an invalid PATCH by a stranger is 422", func() {
			r := req(http.MethodPatch, tweetPath(t.ID)).withJSON(`{"text":""}`).with("X-API-Key", other.APIKey).send()
			expectProblem(r, http.StatusUnprocessableEntity, "text")
			expectUnchanged()
		})
	})

	Describe("text rules, on POST and on PATCH", func() {
		accepted := []TableEntry{
			Entry("plain text", `{"text":"hello"}`, "hello"),
			Entry("surrounding spaces and newlines are trimmed", `{"text":"  \n\t hello world \r\n "}`, "hello world"),
			Entry("Unicode white space is trimmed", `{"text":"\u3000\u00a0hi\u2003"}`, "hi"),
			Entry("inner white space is kept", `{"text":"a  b\nc"}`, "a  b\nc"),
			Entry("inner tabs and newlines are kept", `{"text":"a\tb\n\nc"}`, "a\tb\n\nc"),
			Entry("280 ASCII characters", tweetBody(strings.Repeat("a", 280)), strings.Repeat("a", 280)),
			Entry("280 ASCII characters inside white space", tweetBody("   "+strings.Repeat("a", 280)+"\n\n"), strings.Repeat("a", 280)),
			Entry("280 emoji (1120 bytes)", tweetBody(strings.Repeat("😀", 280)), strings.Repeat("😀", 280)),
			Entry("280 code points of combining marks", tweetBody(strings.Repeat("e\u0301", 140)), strings.Repeat("e\u0301", 140)),
			Entry("a surrogate pair escape", `{"text":"\ud83d\ude00"}`, "😀"),
			Entry("an escaped backslash before u", `{"text":"\\ud800"}`, `\ud800`),
			Entry("HTML is stored as given", `{"text":"<b>bold</b> & \"quoted\""}`, `<b>bold</b> & "quoted"`),
			Entry("one character", `{"text":"x"}`, "x"),
		}
		rejected := []TableEntry{
			Entry("empty", `{"text":""}`),
			Entry("only spaces", `{"text":"     "}`),
			Entry("only white space of all kinds", `{"text":" \t\n\r\u3000\u2003"}`),
			Entry("281 ASCII characters", tweetBody(strings.Repeat("a", 281))),
			Entry("281 emoji", tweetBody(strings.Repeat("😀", 281))),
			Entry("282 code points of combining marks", tweetBody(strings.Repeat("e\u0301", 141))),
			Entry("a NUL escape", `{"text":"a\u0000b"}`),
			Entry("only NUL", `{"text":"\u0000"}`),
			Entry("invalid UTF-8 bytes", "{\"text\":\"ab\xff\xfe\"}"),
			Entry("a truncated UTF-8 sequence", "{\"text\":\"\xe2\x82\"}"),
			Entry("an overlong UTF-8 encoding", "{\"text\":\"\xc0\xaf\"}"),
			Entry("a lone high surrogate", `{"text":"\ud800"}`),
			Entry("a lone low surrogate", `{"text":"x\udc00"}`),
			Entry("a high surrogate followed by a non-surrogate", `{"text":"\ud800\u0041"}`),
			Entry("two high surrogates", `{"text":"\ud800\ud800"}`),
			Entry("a carriage return inside", `{"text":"a\rb"}`),
			Entry("an escape sequence", `{"text":"\u001b[2Jcleared"}`),
			Entry("a C1 control", `{"text":"a\u0085b"}`),
			Entry("a right-to-left override", `{"text":"invoice\u202Efdp.exe"}`),
			Entry("a left-to-right isolate", `{"text":"a\u2066b"}`),
			Entry("a number", `{"text":42}`),
			Entry("a negative number", `{"text":-1.5}`),
			Entry("a boolean", `{"text":true}`),
			Entry("an array", `{"text":["a"]}`),
			Entry("an object", `{"text":{"a":"b"}}`),
			Entry("null", `{"text":null}`),
			Entry("missing", `{}`),
		}

		DescribeTable("POST accepts and trims",
			func(body, want string) {
				r := postJSON("/tweets", body)
				Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
				t := decodeTweet(r)
				Expect(t.Text).To(Equal(want))
				Expect(utf8.RuneCountInString(t.Text)).To(BeNumerically("<=", 280))
				Expect(decodeTweet(get(tweetPath(t.ID))).Text).To(Equal(want))
			},
			accepted,
		)

		DescribeTable("PATCH accepts and trims",
			func(body, want string) {
				t := createTweet("before", "")
				r := req(http.MethodPatch, tweetPath(t.ID)).withJSON(body).send()
				Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
				Expect(decodeTweet(r).Text).To(Equal(want))
				Expect(decodeTweet(get(tweetPath(t.ID))).Text).To(Equal(want))
			},
			accepted,
		)

		DescribeTable("POST rejects with 422 naming text, storing nothing",
			func(body string) {
				expectProblem(postJSON("/tweets", body), http.StatusUnprocessableEntity, "text")
				Expect(get("/tweets").body).To(MatchJSON(`[]`))
			},
			rejected,
		)

		DescribeTable("PATCH rejects with 422 naming text, changing nothing",
			func(body string) {
				t := createTweet("before", "")
				expectProblem(req(http.MethodPatch, tweetPath(t.ID)).withJSON(body).send(), http.StatusUnprocessableEntity, "text")
				Expect(decodeTweet(get(tweetPath(t.ID)))).To(Equal(t))
			},
			rejected,
		)

		It("explains the length error with the count", func() {
			p := expectProblem(postJSON("/tweets", tweetBody(strings.Repeat("😀", 281))), http.StatusUnprocessableEntity, "text")
			Expect(p["detail"]).To(ContainSubstring("281"))
		})

		It("names the JSON type it got instead of a string", func() {
			p := expectProblem(postJSON("/tweets", `{"text":[1]}`), http.StatusUnprocessableEntity, "text")
			Expect(p["detail"]).To(ContainSubstring("array"))
		})
	})

	Describe("GET /tweets pagination", func() {
		// seed creates n anonymous tweets and returns their ids in order.
		seed := func(n int) []int64 {
			GinkgoHelper()
			out := make([]int64, n)
			for i := range n {
				out[i] = createTweet(fmt.Sprintf("tweet %d", i+1), "").ID
			}
			return out
		}

		It("returns an empty array, not null, and no Link when there are no tweets", func() {
			r := get("/tweets")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(string(r.body)).To(Equal("[]"))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("returns tweets in ascending id order with their authors", func() {
			u := createUser("writer", "writer@example.com")
			a := createTweet("anonymous", "")
			b := createTweet("signed", u.APIKey)
			r := get("/tweets")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(tweetList(r)).To(Equal([]tweet{a, b}))
		})

		It("sends no Link when exactly limit tweets exist", func() {
			want := seed(3)
			r := get("/tweets?limit=3")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("sends Link rel=next when limit+1 tweets exist, and the link leads to the last one", func() {
			want := seed(4)
			r := get("/tweets?limit=3")
			Expect(ids(r)).To(Equal(want[:3]))
			Expect(r.header.Get("Link")).To(MatchRegexp(`^</tweets\?limit=3&cursor=[A-Za-z0-9_-]{32}>; rel="next"$`))
			Expect(nextLink(r)).To(Equal("/tweets?limit=3&cursor=" + r.header.Get("Next-Cursor")))

			r = get(nextLink(r))
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(ids(r)).To(Equal(want[3:]))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("visits every tweet exactly once when following Link to the end", func() {
			want := seed(11)
			var got []int64
			pages := 0
			for target := "/tweets?limit=3"; target != ""; pages++ {
				Expect(pages).To(BeNumerically("<", 10), "Link never ends")
				r := get(target)
				Expect(r.status).To(Equal(http.StatusOK))
				page := ids(r)
				Expect(len(page)).To(BeNumerically(">=", 1))
				Expect(len(page)).To(BeNumerically("<=", 3))
				got = append(got, page...)
				target = nextLink(r)
			}
			Expect(pages).To(Equal(4))
			Expect(got).To(Equal(want))
		})

		It("defaults to 50 a page", func() {
			want := seed(51)
			r := get("/tweets")
			Expect(ids(r)).To(Equal(want[:50]))
			Expect(nextLink(r)).To(Equal("/tweets?limit=50&cursor=" + r.header.Get("Next-Cursor")))
			Expect(ids(get(nextLink(r)))).To(Equal(want[50:]))
		})

		It("accepts the bounds 1 and 200", func() {
			want := seed(3)
			r := get("/tweets?limit=1")
			Expect(ids(r)).To(Equal(want[:1]))
			Expect(nextLink(r)).To(Equal("/tweets?limit=1&cursor=" + r.header.Get("Next-Cursor")))
			r = get("/tweets?limit=200")
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("gives Next-Cursor on the last page too, to poll for newer tweets from", func() {
			want := seed(2)
			r := get("/tweets")
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
			cursor := r.header.Get("Next-Cursor")
			Expect(cursor).NotTo(BeEmpty())
			r = get("/tweets?cursor=" + cursor)
			Expect(string(r.body)).To(Equal("[]"))
			Expect(r.header.Get("Next-Cursor")).To(Equal(cursor))
			newer := createTweet("newer", "").ID
			Expect(ids(get("/tweets?cursor=" + cursor))).To(Equal([]int64{newer}))
		})

		It("keeps following a cursor whose tweet was deleted", func() {
			want := seed(4)
			r := get("/tweets?limit=2")
			Expect(req(http.MethodDelete, tweetPath(want[1])).send().status).To(Equal(http.StatusNoContent))
			Expect(ids(get(nextLink(r)))).To(Equal(want[2:]))
		})

		It("returns what follows after_id, and an empty page beyond the end", func() {
			want := seed(5)
			Expect(ids(get(fmt.Sprintf("/tweets?after_id=%d", want[1])))).To(Equal(want[2:]))
			Expect(ids(get("/tweets?after_id=0"))).To(Equal(want))

			for _, q := range []string{
				fmt.Sprintf("/tweets?after_id=%d", want[4]),
				"/tweets?after_id=1000000",
				"/tweets?after_id=9223372036854775807",
			} {
				r := get(q)
				Expect(r.status).To(Equal(http.StatusOK))
				Expect(string(r.body)).To(Equal("[]"))
				Expect(r.header.Get("Link")).To(BeEmpty())
			}
		})

		It("skips deleted tweets without breaking the page", func() {
			want := seed(4)
			Expect(req(http.MethodDelete, tweetPath(want[1])).send().status).To(Equal(http.StatusNoContent))
			r := get("/tweets?limit=2")
			Expect(ids(r)).To(Equal([]int64{want[0], want[2]}))
			Expect(ids(get(nextLink(r)))).To(Equal([]int64{want[3]}))
		})
	})

	pageErrors := []TableEntry{
		Entry("limit 0", "limit=0", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit 201", "limit=201", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit -1", "limit=-1", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit beyond int64", "limit=99999999999999999999", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit abc", "limit=abc", http.StatusBadRequest, []string{"limit"}),
		Entry("limit 1.5", "limit=1.5", http.StatusBadRequest, []string{"limit"}),
		Entry("limit 1e2", "limit=1e2", http.StatusBadRequest, []string{"limit"}),
		Entry("limit with a space", "limit=%205", http.StatusBadRequest, []string{"limit"}),
		Entry("after_id -1", "after_id=-1", http.StatusUnprocessableEntity, []string{"after_id"}),
		Entry("after_id beyond int64", "after_id=9223372036854775808", http.StatusUnprocessableEntity, []string{"after_id"}),
		Entry("after_id abc", "after_id=abc", http.StatusBadRequest, []string{"after_id"}),
		Entry("after_id 0x1", "after_id=0x1", http.StatusBadRequest, []string{"after_id"}),
		Entry("both out of range", "limit=0&after_id=-5", http.StatusUnprocessableEntity, []string{"limit", "after_id"}),
		Entry("cursor abc", "cursor=abc", http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor of the right length, unsigned", "cursor="+strings.Repeat("A", 32), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor not base64url", "cursor="+strings.Repeat("%2B", 32), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor of 4000 characters", "cursor="+strings.Repeat("A", 4000), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor with after_id", "after_id=1&cursor=abc", http.StatusUnprocessableEntity, []string{"cursor"}),
	}

	DescribeTable("GET /tweets refuses bad page parameters",
		func(query string, status int, fields []string) {
			createTweet("exists", "")
			expectProblem(get("/tweets?"+query), status, fields...)
		},
		pageErrors,
	)

	DescribeTable("GET /users/{id}/tweets refuses bad page parameters",
		func(query string, status int, fields []string) {
			u := createUser("paged", "paged@example.com")
			createTweet("exists", u.APIKey)
			expectProblem(get(userPath(u.ID)+"/tweets?"+query), status, fields...)
		},
		pageErrors,
	)

	It("keeps every tweet created by 50 concurrent requests", func() {
		u := createUser("busy", "busy@example.com")
		const n = 50
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				rq := req(http.MethodPost, "/tweets").withJSON(tweetBody(fmt.Sprintf("concurrent #%d", i)))
				if i%2 == 0 {
					rq = rq.with("X-API-Key", u.APIKey)
				}
				results[i] = rq.send()
			})
		}
		wg.Wait()

		seen := map[int64]bool{}
		for i, r := range results {
			Expect(r.status).To(Equal(http.StatusCreated), "request %d: %s", i, r)
			t := decodeTweet(r)
			Expect(seen).NotTo(HaveKey(t.ID), "id %d given twice", t.ID)
			seen[t.ID] = true
			got := decodeTweet(get(tweetPath(t.ID)))
			Expect(got.Text).To(Equal(fmt.Sprintf("concurrent #%d", i)))
			if i%2 == 0 {
				Expect(got.User).To(Equal(&tweetBy{ID: u.ID, Username: "busy"}))
			} else {
				Expect(got.User).To(BeNil())
			}
		}
		// Listed once each; concurrent inserts may be listed out of id order.
		var want, mine []any
		for id := range seen {
			want = append(want, id)
		}
		Eventually(func() []int64 { return ids(get("/tweets?limit=200")) }).Should(ConsistOf(want...))
		for i, r := range results {
			if i%2 == 0 {
				mine = append(mine, decodeTweet(r).ID)
			}
		}
		Eventually(func() []int64 { return ids(get(userPath(u.ID) + "/tweets?limit=200")) }).Should(ConsistOf(mine...))
	})
})
