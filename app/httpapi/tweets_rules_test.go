package httpapi_test

import (
	"net/http"
	"strings"
	"unicode/utf8"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("tweets", func() {
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
})
