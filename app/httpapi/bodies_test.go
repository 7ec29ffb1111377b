package httpapi_test

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

// endpoint is a route that takes a JSON body.
type endpoint struct {
	method string
	path   string
	valid  string // a body the route accepts
	ok     int    // the status of a valid request
}

// jsonEndpoints returns the routes with JSON bodies; PATCH gets a fresh
// anonymous tweet to change.
func jsonEndpoints() map[string]endpoint {
	GinkgoHelper()
	t := createTweet("original", "")
	return map[string]endpoint{
		"POST /tweets":       {http.MethodPost, "/tweets", `{"text":"hello"}`, http.StatusCreated},
		"PATCH /tweets/{id}": {http.MethodPatch, tweetPath(t.ID), `{"text":"changed"}`, http.StatusOK},
		"POST /users":        {http.MethodPost, "/users", `{"username":"valid_name","email":"valid@example.com"}`, http.StatusCreated},
	}
}

// stateOf summarises everything stored, to show that a refused request
// changed nothing.
func stateOf() string {
	GinkgoHelper()
	var s string
	Expect(tdb.QueryRow(context.Background(), `SELECT
		coalesce((SELECT json_agg(t ORDER BY id)::text FROM tweets t), '') || '|' ||
		coalesce((SELECT json_agg(u ORDER BY id)::text FROM users u), '')`).Scan(&s)).To(Succeed())
	return s
}

var routeNames = []string{"POST /tweets", "PATCH /tweets/{id}", "POST /users"}

// forEachRoute runs check once a JSON route, with that route's details.
func forEachRoute(check func(name string, ep endpoint)) {
	GinkgoHelper()
	eps := jsonEndpoints()
	for _, name := range routeNames {
		By(name)
		check(name, eps[name])
	}
}

var _ = Describe("request bodies", func() {
	It("the valid bodies used below are accepted", func() {
		forEachRoute(func(name string, ep endpoint) {
			r := req(ep.method, ep.path).withJSON(ep.valid).send()
			Expect(r.status).To(Equal(ep.ok), "%s: %s", name, r)
		})
	})

	DescribeTable("malformed or non-object JSON is a 400 problem that changes nothing",
		func(body string) {
			forEachRoute(func(name string, ep endpoint) {
				before := stateOf()
				expectProblem(req(ep.method, ep.path).withJSON(body).send(), http.StatusBadRequest)
				Expect(stateOf()).To(Equal(before), name)
			})
		},
		Entry("empty body", ""),
		Entry("only white space", "  \n "),
		Entry("truncated object", `{"text":`),
		Entry("unclosed string", `{"text":"abc`),
		Entry("unquoted key", `{text:"hello"}`),
		Entry("single quotes", `{'text':'hello'}`),
		Entry("trailing comma", `{"text":"hello",}`),
		Entry("missing colon", `{"text" "hello"}`),
		Entry("bare word", `hello`),
		Entry("trailing garbage", `{"text":"hello"} x`),
		Entry("two objects", `{"text":"a"}{"text":"b"}`),
		Entry("an object then a number", `{"text":"a"} 1`),
		Entry("an array", `[{"text":"hello"}]`),
		Entry("an empty array", `[]`),
		Entry("a string", `"hello"`),
		Entry("a number", `42`),
		Entry("true", `true`),
		Entry("null", `null`),
		Entry("a byte-order mark before the object", "\ufeff{\"text\":\"hello\"}"),
	)

	It("refuses nesting deeper than the decoder allows with a 400, under the largest body limit", func() {
		a := httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB), MaxBodyBytes: httpapi.LargestMaxBodyBytes})
		body := `{"text":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`
		expectProblem(req(http.MethodPost, "/tweets").withJSON(body).on(a), http.StatusBadRequest)
	})

	It("refuses nesting as deep as 16 KiB allows as a wrong type, naming the field", func() {
		body := `{"text":` + strings.Repeat("[", 8000) + strings.Repeat("]", 8000) + `}`
		expectProblem(postJSON("/tweets", body), http.StatusUnprocessableEntity, "text")
	})

	It("an unknown field is a 422 naming that field, on every route", func() {
		forEachRoute(func(name string, ep endpoint) {
			body := strings.TrimSuffix(ep.valid, "}") + `,"is_admin":true}`
			before := stateOf()
			expectProblem(req(ep.method, ep.path).withJSON(body).send(), http.StatusUnprocessableEntity, "is_admin")
			Expect(stateOf()).To(Equal(before), name)
		})
	})

	DescribeTable("a key that matches a field only when case is ignored is a 422 naming it",
		func(body, field string) {
			before := stateOf()
			expectProblem(postJSON("/tweets", body), http.StatusUnprocessableEntity, field)
			Expect(stateOf()).To(Equal(before))
		},
		Entry("upper case", `{"TEXT":"hello"}`, "TEXT"),
		Entry("title case beside the real one", `{"text":"a","Text":"b"}`, "Text"),
	)

	DescribeTable("a compressed body is a 415 problem, never inflated",
		func(encoding string, compress func([]byte) []byte) {
			// 5 MiB of spaces inside a valid tweet: a few KiB compressed.
			raw := []byte(`{"text":"bomb` + strings.Repeat(" ", 5<<20) + `"}`)
			body := string(compress(raw))
			Expect(len(body)).To(BeNumerically("<", httpapi.DefaultMaxBodyBytes))
			before := stateOf()
			r := req(http.MethodPost, "/tweets").withJSON(body).with("Content-Encoding", encoding).send()
			p := expectProblem(r, http.StatusUnsupportedMediaType)
			Expect(p["detail"]).To(ContainSubstring("Content-Encoding"))
			Expect(stateOf()).To(Equal(before))
		},
		Entry("gzip", "gzip", func(b []byte) []byte {
			var buf bytes.Buffer
			w := gzip.NewWriter(&buf)
			_, _ = w.Write(b)
			_ = w.Close()
			return buf.Bytes()
		}),
		Entry("deflate", "deflate", func(b []byte) []byte {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestCompression)
			_, _ = w.Write(b)
			_ = w.Close()
			return buf.Bytes()
		}),
		Entry("an unknown coding", "br", func(b []byte) []byte { return b[:100] }),
	)

	It("accepts an identity Content-Encoding", func() {
		r := req(http.MethodPost, "/tweets").withJSON(`{"text":"plain"}`).with("Content-Encoding", "identity").send()
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
	})

	DescribeTable("a body that is not declared as JSON is a 415 problem",
		func(contentType string) {
			forEachRoute(func(name string, ep endpoint) {
				before := stateOf()
				r := req(ep.method, ep.path).withJSON(ep.valid).with("Content-Type", contentType).send()
				expectProblem(r, http.StatusUnsupportedMediaType)
				Expect(stateOf()).To(Equal(before), name)
			})
		},
		Entry("missing Content-Type", ""),
		Entry("text/plain", "text/plain"),
		Entry("form encoded", "application/x-www-form-urlencoded"),
		Entry("HTML", "text/html; charset=utf-8"),
		Entry("XML", "application/xml"),
		Entry("JSON in another charset", "application/json; charset=latin1"),
		Entry("a malformed media type", "application/json;;;=="),
		Entry("a JSON look-alike", "application/jsonx"),
		Entry("text/json", "text/json"),
	)

	DescribeTable("a body declared as JSON in UTF-8 is accepted",
		func(contentType string) {
			forEachRoute(func(name string, ep endpoint) {
				r := req(ep.method, ep.path).withJSON(ep.valid).with("Content-Type", contentType).send()
				Expect(r.status).To(Equal(ep.ok), "%s: %s", name, r)
			})
		},
		Entry("application/json", "application/json"),
		Entry("with charset=utf-8", "application/json; charset=utf-8"),
		Entry("with charset=UTF-8", "application/json; charset=UTF-8"),
		Entry("in upper case", "Application/JSON"),
	)

	Describe("the 16 KiB body limit", func() {
		// padded returns valid, grown with white space to exactly size bytes.
		padded := func(valid string, size int) string {
			return strings.TrimSuffix(valid, "}") + strings.Repeat(" ", size-len(valid)) + "}"
		}

		It("accepts a body of exactly 16 KiB", func() {
			forEachRoute(func(name string, ep endpoint) {
				body := padded(ep.valid, httpapi.DefaultMaxBodyBytes)
				Expect(body).To(HaveLen(16 << 10))
				r := req(ep.method, ep.path).withJSON(body).send()
				Expect(r.status).To(Equal(ep.ok), "%s: %s", name, r)
			})
		})

		It("refuses a body of 16 KiB and one byte with a 413 problem, storing nothing", func() {
			forEachRoute(func(name string, ep endpoint) {
				before := stateOf()
				r := req(ep.method, ep.path).withJSON(padded(ep.valid, httpapi.DefaultMaxBodyBytes+1)).onServer(app)
				p := expectProblem(r, http.StatusRequestEntityTooLarge)
				// Read in full before refusing: the 413 passes the middleware.
				Expect(r.header.Get("X-Request-ID")).NotTo(BeEmpty(), name)
				Expect(p).To(HaveKeyWithValue("request_id", r.header.Get("X-Request-ID")), name)
				Expect(stateOf()).To(Equal(before), name)
			})
		})

		It("refuses a 5 MiB text with 413, not 422", func() {
			r := req(http.MethodPost, "/tweets").withJSON(tweetBody(strings.Repeat("a", 5<<20))).onServer(app)
			expectProblem(r, http.StatusRequestEntityTooLarge)
			Expect(get("/tweets").body).To(MatchJSON(`[]`))
		})

		It("refuses a 20 MiB body with 413 without reading it all", func() {
			r := req(http.MethodPost, "/tweets").withJSON(tweetBody(strings.Repeat("a", 20<<20))).onServer(app)
			expectProblem(r, http.StatusRequestEntityTooLarge)
			Expect(get("/tweets").body).To(MatchJSON(`[]`))
		})
	})

	It("never answers odd input with a 500", func() {
		u := createUser("target", "target@example.com")
		t := createTweet("target", u.APIKey)
		odd := []request{
			req(http.MethodGet, "/tweets/%00"),
			req(http.MethodGet, "/tweets/1%2F2"),
			req(http.MethodGet, "/tweets/"+strings.Repeat("9", 5000)),
			req(http.MethodGet, "/tweets?limit=%00"),
			req(http.MethodGet, "/tweets?limit=1&limit=abc"),
			req(http.MethodGet, "/tweets?after_id="+strings.Repeat("1", 5000)),
			req(http.MethodGet, "/users/"+strings.Repeat("1", 30)+"/tweets"),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"\u0000\ud800\udfff"}`),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"\uZZZZ"}`),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"\u12"}`),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"a\`),
			req(http.MethodPost, "/tweets").withJSON(`{"text":1e999}`),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"ok","text":{}}`),
			req(http.MethodPost, "/tweets").withJSON(`{"":""}`),
			req(http.MethodPost, "/tweets").withJSON("{\"text\":\"ok\"}\x00"),
			req(http.MethodPost, "/tweets").withJSON("\x00"),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"hi"}`).with("X-API-Key", "tw_"+strings.Repeat("\xff", 43)),
			req(http.MethodPost, "/tweets").withJSON(`{"text":"hi"}`).with("X-API-Key", strings.Repeat("k", 4000)),
			req(http.MethodPatch, tweetPath(t.ID)).withJSON(`{"text":null}`).with("X-API-Key", u.APIKey),
			req(http.MethodPatch, tweetPath(t.ID)).withJSON(`{"text":"\ud800"}`).with("X-API-Key", "nope"),
			req(http.MethodDelete, tweetPath(t.ID)).with("X-API-Key", "tw_"+strings.Repeat("-", 43)),
			req(http.MethodPost, "/users").withJSON(`{"username":"` + strings.Repeat("a", 100000) + `","email":"x"}`),
			req(http.MethodPost, "/users").withJSON(`{"username":"ok_name","email":"` + strings.Repeat("a", 100000) + `@example.com"}`),
			req(http.MethodPost, "/users").withJSON(`{"username":"ok_name","email":"a@` + strings.Repeat("b.", 200) + `com"}`),
		}
		for _, rq := range odd {
			r := rq.onServer(app)
			Expect(r.status).To(BeNumerically("<", 500), "%s %s: %s", rq.method, rq.target, r)
			Expect(r.status).To(BeNumerically(">=", 200))
		}
		// The tweet survived all of it.
		Expect(decodeTweet(get(tweetPath(t.ID)))).To(Equal(t))
	})
})
