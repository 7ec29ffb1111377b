package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/readiness"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

func TestHTTPAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "httpapi suite")
}

// tdb is this process's migrated database, emptied before every spec.
var tdb = testdb.Suite("httpapi")

// startedAt has a non-zero nanosecond part and a non-UTC zone, so /healthz
// shows whether it cuts to milliseconds and converts to UTC.
var startedAt = time.Date(2026, 11, 26, 20, 30, 15, 123456789, time.FixedZone("CET", 3600))

const testVersion = "v9.8.7-test"

// app is a fresh API over the real store and database for each spec.
var app *fiber.App

var _ = BeforeEach(func() {
	app = newApp(tdb.DB)
})

// newApp builds the API over db, the suite's database or one behind a proxy.
func newApp(db *store.DB) *fiber.App {
	return httpapi.New(httpapi.Deps{
		Services:  db.Services(),
		Ready:     readyOver(db),
		Version:   testVersion,
		StartedAt: startedAt,
		// Twice the production budget: specs that fire dozens of requests
		// at once must not fail on a loaded CI machine.
		RequestTimeout: 10 * time.Second,
	})
}

// readyOver is the readiness check over db, as serve builds it over a pool
// of its own.
func readyOver(db *store.DB) httpapi.Readiness {
	GinkgoHelper()
	r, err := readiness.New(db, 0)
	Expect(err).NotTo(HaveOccurred())
	return r
}

// loggingApp is the API over the suite's database with services s, logging
// at info level, as in production, into the returned buffer.
func loggingApp(s twitter.Services) (*fiber.App, *bytes.Buffer) {
	logged := &bytes.Buffer{}
	return httpapi.New(httpapi.Deps{
		Services: s, Ready: readyOver(tdb.DB),
		Logger: slog.New(slog.NewJSONHandler(logged, nil)),
	}), logged
}

// servicesWith is db's services with some replaced, e.g. by a wrapper that
// observes or fails.
func servicesWith(db *store.DB, replace func(*twitter.Services)) twitter.Services {
	s := db.Services()
	replace(&s)
	return s
}

// proxiedApp is an API over a second pool on the suite's database, through
// a proxy the spec can cut or stall.
func proxiedApp() (*testdb.Proxy, *fiber.App) {
	GinkgoHelper()
	proxy, db := tdb.Proxied()
	return proxy, newApp(db)
}

// expectUnavailable checks a 503 problem that tells the client when to retry.
func expectUnavailable(r result) {
	GinkgoHelper()
	expectProblem(r, http.StatusServiceUnavailable)
	Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
}

// eventuallyOK waits until a answers GET target with 200, as it must once
// the database is back.
func eventuallyOK(a *fiber.App, target string) {
	GinkgoHelper()
	Eventually(func() int {
		return req(http.MethodGet, target).on(a).status
	}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))
}

// mustJSON marshals v, for building request bodies.
func mustJSON(v any) string {
	GinkgoHelper()
	b, err := json.Marshal(v)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

// tweetBody is the body of POST and PATCH /tweets.
func tweetBody(text string) string {
	GinkgoHelper()
	return mustJSON(map[string]string{"text": text})
}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

// expectProblem checks that r is an RFC 9457 problem with status; fields,
// when given, are the field names expected in errors, in order. It returns
// the decoded problem.
func expectProblem(r result, status int, fields ...string) map[string]any {
	GinkgoHelper()
	Expect(r.status).To(Equal(status), "response: %s", r)
	Expect(r.header.Get("Content-Type")).To(Equal("application/problem+json"))
	p := r.object()
	Expect(p).To(HaveKeyWithValue("type", "about:blank"))
	Expect(p).To(HaveKeyWithValue("title", http.StatusText(status)))
	Expect(p).To(HaveKeyWithValue("status", BeNumerically("==", status)))
	Expect(p).To(HaveKeyWithValue("detail", Not(BeEmpty())))
	if id := r.header.Get("X-Request-ID"); id != "" {
		Expect(p).To(HaveKeyWithValue("request_id", id))
	}
	if len(fields) > 0 {
		Expect(p).To(HaveKey("errors"))
		errs, ok := p["errors"].([]any)
		Expect(ok).To(BeTrue(), "errors is not an array: %v", p["errors"])
		got := make([]string, len(errs))
		for i, e := range errs {
			fe, ok := e.(map[string]any)
			Expect(ok).To(BeTrue(), "error %d is not an object: %v", i, e)
			Expect(fe).To(HaveKeyWithValue("message", Not(BeEmpty())))
			got[i], _ = fe["field"].(string)
		}
		Expect(got).To(Equal(fields), "problem: %s", r.body)
	}
	return p
}

// createdUser is the 201 body of POST /users.
type createdUser struct {
	ID        int64  `json:"id"`
	Username  string `json:"username"`
	Email     string `json:"email"`
	CreatedAt string `json:"created_at"`
	APIKey    string `json:"api_key"`
}

// createUser registers a user through the API and returns the response.
func createUser(username, email string) createdUser {
	GinkgoHelper()
	r := postJSON("/users", mustJSON(map[string]string{"username": username, "email": email}))
	Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
	var u createdUser
	Expect(json.Unmarshal(r.body, &u)).To(Succeed())
	return u
}

// tweet is a tweet as the API shows it.
type tweet struct {
	ID        int64    `json:"id"`
	Text      string   `json:"text"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
	User      *tweetBy `json:"user"`
}

type tweetBy struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

func decodeTweet(r result) tweet {
	GinkgoHelper()
	var t tweet
	Expect(json.Unmarshal(r.body, &t)).To(Succeed(), "body: %s", r.body)
	return t
}

// createTweet posts text, with apiKey unless it is empty, and expects 201.
func createTweet(text, apiKey string) tweet {
	GinkgoHelper()
	rq := req(http.MethodPost, "/tweets").withJSON(tweetBody(text))
	if apiKey != "" {
		rq = rq.with("X-API-Key", apiKey)
	}
	r := rq.send()
	Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
	return decodeTweet(r)
}

func tweetPath(id int64) string { return fmt.Sprintf("/tweets/%d", id) }

func userPath(id int64) string { return fmt.Sprintf("/users/%d", id) }

// tweetList decodes a JSON array of tweets.
func tweetList(r result) []tweet {
	GinkgoHelper()
	Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
	var ts []tweet
	Expect(json.Unmarshal(r.body, &ts)).To(Succeed(), "body: %s", r.body)
	Expect(ts).NotTo(BeNil(), "a list must be [], not null")
	return ts
}

// ids lists the ids of a JSON array of tweets.
func ids(r result) []int64 {
	GinkgoHelper()
	ts := tweetList(r)
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return out
}

var linkPattern = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// nextLink returns the target of the Link rel="next" header, or "".
func nextLink(r result) string {
	GinkgoHelper()
	l := r.header.Get("Link")
	if l == "" {
		return ""
	}
	m := linkPattern.FindStringSubmatch(l)
	Expect(m).To(HaveLen(2), "Link header %q", l)
	return m[1]
}

// expectRFC3339UTC checks a timestamp the API returned.
func expectRFC3339UTC(s any) time.Time {
	GinkgoHelper()
	str, ok := s.(string)
	Expect(ok).To(BeTrue(), "timestamp %v is not a string", s)
	Expect(str).To(HaveSuffix("Z"))
	t, err := time.Parse(time.RFC3339Nano, str)
	Expect(err).NotTo(HaveOccurred())
	return t
}
