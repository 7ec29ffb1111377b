package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/apitest"
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

// result is a response read in full.
type result struct {
	status int
	header http.Header
	body   []byte
	// closed: the response said Connection: close (net/http takes that
	// header out of header).
	closed bool
}

func (r result) String() string {
	return fmt.Sprintf("%d %v %s", r.status, r.header, r.body)
}

// object decodes the body as a JSON object.
func (r result) object() map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(r.body, &m)).To(Succeed(), "body: %s", r.body)
	return m
}

// list decodes the body as a JSON array.
func (r result) list() []any {
	GinkgoHelper()
	var l []any
	Expect(json.Unmarshal(r.body, &l)).To(Succeed(), "body: %s", r.body)
	return l
}

// request is one HTTP request to send to an app.
type request struct {
	method string
	target string
	body   *string
	header map[string]string // "" as a value removes the header
}

// req starts a request without a body.
func req(method, target string) request {
	return request{method: method, target: target, header: map[string]string{}}
}

// withJSON gives the request a body declared as application/json.
func (r request) withJSON(body string) request {
	r.body = &body
	r.header["Content-Type"] = "application/json"
	return r
}

// with sets a header; an empty value removes it.
func (r request) with(name, value string) request {
	r.header[name] = value
	return r
}

// on sends the request to a, in-process, and reads the whole response.
func (r request) on(a *fiber.App) result {
	GinkgoHelper()
	var body io.Reader = http.NoBody
	if r.body != nil {
		body = strings.NewReader(*r.body)
	}
	hr := httptest.NewRequest(r.method, r.target, body)
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := a.Test(hr, -1)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return documented(r.method, r.target, result{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close})
}

// documented fails the spec when docs/swagger.json does not describe the
// response: every response a spec receives passes through here, so the
// document is checked by every spec without one of them asking.
func documented(method, target string, r result) result {
	GinkgoHelper()
	if r.status == http.StatusInternalServerError {
		return r // a bug's answer, which no operation documents; the specs that provoke one check it
	}
	Expect(apitest.Documented(method, target, r.status, r.header, r.body)).To(Succeed())
	return r
}

// onServer sends the request straight to a's fasthttp server over an
// in-memory connection, as app.Test does, but keeps the response when the
// server itself refuses the request (body over the limit, headers too
// large): app.Test returns only the error then.
func (r request) onServer(a *fiber.App) result {
	GinkgoHelper()
	// app.Test builds the router on first use; do that before bypassing it.
	warm, err := a.Test(httptest.NewRequest(http.MethodGet, "/healthz", nil), -1)
	Expect(err).NotTo(HaveOccurred())
	warm.Body.Close()

	var raw bytes.Buffer
	raw.WriteString(r.method + " " + r.target + " HTTP/1.1\r\nHost: example.com\r\n")
	for k, v := range r.header {
		if v != "" {
			raw.WriteString(k + ": " + v + "\r\n")
		}
	}
	body := ""
	if r.body != nil {
		body = *r.body
	}
	fmt.Fprintf(&raw, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)

	conn := &memConn{r: raw}
	_ = a.Server().ServeConn(conn) // the error duplicates the response
	resp, err := http.ReadResponse(bufio.NewReader(&conn.w), nil)
	Expect(err).NotTo(HaveOccurred(), "no response to %s %s", r.method, r.target)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return documented(r.method, r.target, result{status: resp.StatusCode, header: resp.Header, body: b})
}

// memConn is a net.Conn that reads a prepared request and records the
// response.
type memConn struct {
	r, w bytes.Buffer
}

func (c *memConn) Read(b []byte) (int, error)     { return c.r.Read(b) }
func (c *memConn) Write(b []byte) (int, error)    { return c.w.Write(b) }
func (*memConn) Close() error                     { return nil }
func (*memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) SetDeadline(time.Time) error      { return nil }
func (*memConn) SetReadDeadline(time.Time) error  { return nil }
func (*memConn) SetWriteDeadline(time.Time) error { return nil }

// send sends the request to the spec's app.
func (r request) send() result {
	GinkgoHelper()
	return r.on(app)
}

func get(target string) result {
	GinkgoHelper()
	return req(http.MethodGet, target).send()
}

func postJSON(target, body string) result {
	GinkgoHelper()
	return req(http.MethodPost, target).withJSON(body).send()
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
