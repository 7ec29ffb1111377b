package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/apitest"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// deadlines records the deadline of the context each store call got.
type deadlines struct {
	mu  sync.Mutex
	got map[string]time.Time
}

func (d *deadlines) note(ctx context.Context, call string) {
	dl, ok := ctx.Deadline()
	Expect(ok).To(BeTrue(), "%s got a context without a deadline", call)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.got[call] = dl
}

// observedUsers and observedTweets are the real stores, noting the
// deadline of every call they serve.
type observedUsers struct {
	twitter.UserService
	d *deadlines
}

func (u observedUsers) ByAPIKey(ctx context.Context, key string) (twitter.User, error) {
	u.d.note(ctx, "ByAPIKey")
	return u.UserService.ByAPIKey(ctx, key)
}

type observedTweets struct {
	twitter.TweetService
	d *deadlines
}

func (t observedTweets) Update(ctx context.Context, id int64, text string, actor *twitter.User) (twitter.Tweet, error) {
	t.d.note(ctx, "Update")
	return t.TweetService.Update(ctx, id, text, actor)
}

// panickingTweets fails the way a bug would.
type panickingTweets struct{ twitter.TweetService }

func (panickingTweets) Get(context.Context, int64) (twitter.Tweet, error) { panic("bug in Get") }

// logLines decodes JSON log output.
func logLines(b *bytes.Buffer) []map[string]any {
	GinkgoHelper()
	lines, err := apitest.LogLines(b.String())
	Expect(err).NotTo(HaveOccurred())
	return lines
}

var _ = Describe("one budget per request", func() {
	It("gives authentication and the transaction one context with one deadline, REQUEST_TIMEOUT from the start", func() {
		u := createUser("budget", "budget@example.com")
		t := createTweet("before", u.APIKey)
		d := &deadlines{got: map[string]time.Time{}}
		a := httpapi.New(httpapi.Deps{
			Services: servicesWith(tdb.DB, func(s *twitter.Services) {
				s.Tweets, s.Users = observedTweets{s.Tweets, d}, observedUsers{s.Users, d}
			}),
			Ready: readyOver(tdb.DB), RequestTimeout: 3 * time.Second,
		})
		start := time.Now()
		r := req(http.MethodPatch, tweetPath(t.ID)).withJSON(tweetBody("after")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusOK), "%s", r)
		Expect(d.got).To(HaveKey("ByAPIKey"))
		Expect(d.got).To(HaveKey("Update"))
		Expect(d.got["Update"]).To(Equal(d.got["ByAPIKey"]), "one deadline for the whole request")
		Expect(d.got["Update"]).To(BeTemporally("~", start.Add(3*time.Second), time.Second))
	})

	It("aborts the database work of a running request when the parent context is cancelled", func() {
		proxy, db := tdb.Proxied()
		parent, abort := context.WithCancel(context.Background())
		DeferCleanup(abort)
		a := httpapi.New(httpapi.Deps{
			Services: db.Services(), Ready: readyOver(db),
			RequestTimeout: time.Minute, Context: parent,
		})
		Expect(req(http.MethodGet, "/tweets").on(a).status).To(Equal(http.StatusOK))
		proxy.Stall()

		got := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			got <- req(http.MethodGet, "/tweets").on(a)
		}()
		Consistently(got).WithTimeout(200*time.Millisecond).ShouldNot(Receive(), "it waits for the stalled database")
		abort()
		var r result
		Eventually(got).WithTimeout(5*time.Second).Should(Receive(&r), "the minute-long budget did not matter")
		expectUnavailable(r)
	})
})

var _ = Describe("small gaps", func() {
	It("marks the POST /users response, the only copy of the API key, no-store", func() {
		r := postJSON("/users", userBody("cached", "cached@example.com"))
		Expect(r.status).To(Equal(http.StatusCreated))
		Expect(r.header.Get("Cache-Control")).To(Equal("no-store"))
		r = postJSON("/users", userBody("cached", "cached@example.com"))
		Expect(r.status).To(Equal(http.StatusConflict))
		Expect(r.header.Get("Cache-Control")).To(Equal("no-store"))
	})

	It("logs a panic with the request id, and answers 500", func() {
		a, logged := loggingApp(servicesWith(tdb.DB, func(s *twitter.Services) { s.Tweets = panickingTweets{s.Tweets} }))
		r := req(http.MethodGet, "/tweets/1").with("X-Request-ID", "panic-trace-1").on(a)
		expectProblem(r, http.StatusInternalServerError)
		Expect(r.body).NotTo(ContainSubstring("bug in Get"), "the panic stays in the log")
		Expect(logLines(logged)).To(ContainElement(SatisfyAll(
			HaveKeyWithValue("msg", "panic"),
			HaveKeyWithValue("request_id", "panic-trace-1"),
			HaveKeyWithValue("panic", "bug in Get"),
		)))
	})
})

var _ = Describe("requests the server refuses before any handler", func() {
	var (
		logged *bytes.Buffer
		a      *fiber.App
	)

	BeforeEach(func() {
		a, logged = loggingApp(tdb.DB.Services())
	})

	It("answers oversized headers with a logged 431 problem", func() {
		r := req(http.MethodGet, "/tweets").with("X-Padding", strings.Repeat("p", 16<<10)).onServer(a)
		p := expectProblem(r, http.StatusRequestHeaderFieldsTooLarge)
		Expect(p).To(HaveKeyWithValue("request_id", MatchRegexp(requestIDPattern.String())))
		Expect(logLines(logged)).To(ContainElement(SatisfyAll(
			HaveKeyWithValue("msg", "request refused"),
			HaveKeyWithValue("status", BeNumerically("==", 431)),
			HaveKeyWithValue("request_id", p["request_id"]),
		)))
	})

	It("answers a body over 8 MiB with a logged 413 problem", func() {
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody(strings.Repeat("a", 9<<20))).onServer(a)
		p := expectProblem(r, http.StatusRequestEntityTooLarge)
		Expect(logLines(logged)).To(ContainElement(SatisfyAll(
			HaveKeyWithValue("msg", "request"),
			HaveKeyWithValue("status", BeNumerically("==", 413)),
			HaveKeyWithValue("request_id", p["request_id"]),
		)))
	})
})
