package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/apitest"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/readiness"
	"github.com/twitter-api/twitter-api/app/store"
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

var _ = Describe("readiness while shutting down", func() {
	It("answers /readyz 503 with Retry-After once draining, while other routes keep serving", func() {
		draining := make(chan struct{})
		a := httpapi.New(httpapi.Deps{
			Services: tdb.DB.Services(), Ready: readyOver(tdb.DB), Draining: draining,
		})
		before := req(http.MethodGet, "/readyz").on(a)
		Expect(before.status).To(Equal(http.StatusOK))
		Expect(before.closed).To(BeFalse(), "keep-alive while serving normally")
		close(draining)
		r := req(http.MethodGet, "/readyz").on(a)
		p := expectProblem(r, http.StatusServiceUnavailable)
		Expect(p["detail"]).To(ContainSubstring("shutting down"))
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		Expect(r.closed).To(BeTrue(), "Connection: close")
		for _, rq := range []request{
			req(http.MethodGet, "/tweets"),
			req(http.MethodPost, "/tweets").withJSON(tweetBody("still served")),
			req(http.MethodGet, "/tweets/0"),
		} {
			r := rq.on(a)
			Expect(r.status).To(BeElementOf(http.StatusOK, http.StatusCreated, http.StatusBadRequest))
			Expect(r.closed).To(BeTrue(), "%s %s: Connection: close, so the client's next request goes elsewhere", rq.method, rq.target)
		}
	})
})

// emptyDatabase creates a database with no schema, dropped after the spec,
// and opens a small pool on it.
func emptyDatabase(ctx SpecContext, prefix string) (string, *store.DB) {
	GinkgoHelper()
	name := testdb.UniqueName(prefix)
	Expect(testdb.CreateEmpty(ctx, tdb.AdminURL, name)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(testdb.Discard(ctx, tdb.AdminURL, name)).To(Succeed()) })
	dsn, err := testdb.WithDatabase(tdb.AdminURL, name)
	Expect(err).NotTo(HaveOccurred())
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 2, MaxIdleConns: 2})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	return dsn, db
}

var _ = Describe("schema-aware readiness", func() {
	It("answers 503 until the database has every embedded migration, then 200, and checks the schema no more", func(ctx SpecContext) {
		dsn, db := emptyDatabase(ctx, "tw_schema")
		a := httpapi.New(httpapi.Deps{Services: db.Services(), Ready: readyOver(db)})

		expectBehind := func() {
			GinkgoHelper()
			r := req(http.MethodGet, "/readyz").on(a)
			expectUnavailable(r)
			Expect(r.object()["detail"]).To(ContainSubstring("lacks migrations"))
		}
		By("a database never migrated")
		expectBehind()
		Expect(req(http.MethodGet, "/healthz").on(a).status).To(Equal(http.StatusOK), "liveness does not care")

		m, err := db.Migrator()
		Expect(err).NotTo(HaveOccurred())
		all, err := migrations.Names()
		Expect(err).NotTo(HaveOccurred())
		Expect(len(all)).To(BeNumerically(">=", 2))

		By("a database one migration behind this version")
		applied, err := m.Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(applied).To(Equal(all))
		_, err = m.Down(ctx, migrations.DownOptions{})
		Expect(err).NotTo(HaveOccurred())
		pending, err := m.Pending(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(pending).NotTo(BeEmpty())
		expectBehind()

		By("migrated")
		_, err = m.Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		r := req(http.MethodGet, "/readyz").on(a)
		Expect(r.status).To(Equal(http.StatusOK), "%s", r)
		Expect(r.object()).To(HaveKeyWithValue("status", "ready"))
		Expect(req(http.MethodGet, "/tweets").on(a).status).To(Equal(http.StatusOK))

		By("ready once, the check is a ping: the migrations table is not read again")
		own := testdb.OpenSQL(dsn)
		Expect(own.Exec(ctx, "ALTER TABLE bun_migrations RENAME TO bun_migrations_away")).To(Succeed())
		Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))
		Expect(readyOver(db).Ready(ctx)).To(MatchError(twitter.ErrSchemaBehind), "a fresh check reads it")
		Expect(own.Exec(ctx, "ALTER TABLE bun_migrations_away RENAME TO bun_migrations")).To(Succeed())
	})
})

var _ = Describe("readiness after a rollback", func() {
	It("reads the schema again while ready, and drops out once a migration it needs is rolled back", func(ctx SpecContext) {
		_, db := emptyDatabase(ctx, "tw_rollback")
		m, err := db.Migrator()
		Expect(err).NotTo(HaveOccurred())
		_, err = m.Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		const recheck = 200 * time.Millisecond
		ready, err := readiness.New(db, recheck)
		Expect(err).NotTo(HaveOccurred())
		a := httpapi.New(httpapi.Deps{Services: db.Services(), Ready: ready})
		Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))

		By("migrate down under the running checker")
		_, err = m.Down(ctx, migrations.DownOptions{})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() int { return req(http.MethodGet, "/readyz").on(a).status }).
			WithTimeout(10 * recheck).WithPolling(recheck / 4).Should(Equal(http.StatusServiceUnavailable))
		Expect(req(http.MethodGet, "/readyz").on(a).object()["detail"]).To(ContainSubstring("lacks migrations"))

		By("migrate up: ready again")
		_, err = m.Up(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))
	})
})

var _ = Describe("readiness with a saturated pool", func() {
	It("stays 200 on a pool of its own while every request connection is taken; through the request pool it would not", func(ctx SpecContext) {
		traffic, err := store.Open(tdb.DSN, store.Options{MaxOpenConns: 1, MaxIdleConns: 1})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(traffic.Close)
		probe, err := store.Open(tdb.DSN, store.Options{MaxOpenConns: 1, MaxIdleConns: 1})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(probe.Close)
		const budget = 2 * time.Second
		own := httpapi.New(httpapi.Deps{Services: traffic.Services(), Ready: readyOver(probe), RequestTimeout: budget})
		shared := httpapi.New(httpapi.Deps{Services: traffic.Services(), Ready: readyOver(traffic), RequestTimeout: budget})
		for _, a := range []*fiber.App{own, shared} {
			Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))
		}

		By("the request pool's only connection taken, as by a slow request: a list waiting for a lock")
		lock, err := tdb.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) { _ = lock.Rollback(ctx) })
		_, err = lock.Exec(ctx, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")
		Expect(err).NotTo(HaveOccurred())
		slow := make(chan error, 1)
		go func() {
			_, err := traffic.Services().Tweets.List(ctx, twitter.Page{Limit: 1})
			slow <- err
		}()
		Eventually(func() (int, error) { return tdb.ServiceLockWaits(ctx) }).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Equal(1), "the pool's one connection waits")
		queued := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			queued <- req(http.MethodGet, "/tweets").on(own)
		}()

		r := req(http.MethodGet, "/readyz").on(own)
		Expect(r.status).To(Equal(http.StatusOK), "a check on its own pool: %s", r)
		expectUnavailable(req(http.MethodGet, "/readyz").on(shared))
		Expect(req(http.MethodGet, "/healthz").on(own).status).To(Equal(http.StatusOK))
		var q result
		Eventually(queued).WithTimeout(budget + 5*time.Second).Should(Receive(&q))
		expectUnavailable(q)

		Expect(lock.Rollback(ctx)).To(Succeed())
		Eventually(slow).WithTimeout(10 * time.Second).Should(Receive(BeNil()))
		Expect(req(http.MethodGet, "/tweets").on(own).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodGet, "/readyz").on(shared).status).To(Equal(http.StatusOK))
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

var _ = Describe("the request body budget", func() {
	// A server on loopback: slow uploads need real connections.
	var base string
	// The largest limit allowed, so a few bodies fill the budget.
	const bodyBytes = httpapi.LargestMaxBodyBytes

	BeforeEach(func() {
		a := httpapi.New(httpapi.Deps{
			Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			RequestTimeout: 3 * time.Second, // the wait for room, and each insert's budget
			MaxBodyBytes:   bodyBytes,
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = a.Listener(ln) }()
		DeferCleanup(func() { _ = a.ShutdownWithTimeout(5 * time.Second) })
		base = ln.Addr().String()
	})

	// prefix is more than fasthttp reads with the headers, so the handler
	// starts and the body waits for room in the budget.
	const prefix = `{"text":"x` + "                " // padded below to 16 KiB

	type upload struct {
		conn net.Conn
		resp chan int // the status, once answered
	}

	// start sends the headers of a 1 MiB POST /tweets and its first 16 KiB,
	// and reads the answer in the background.
	start := func() upload {
		GinkgoHelper()
		c, err := net.Dial("tcp", base)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		head := fmt.Sprintf("POST /tweets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			bodyBytes)
		_, err = io.WriteString(c, head+prefix+strings.Repeat(" ", 16<<10-len(prefix)))
		Expect(err).NotTo(HaveOccurred())
		u := upload{conn: c, resp: make(chan int, 1)}
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				u.resp <- 0
				return
			}
			resp.Body.Close()
			u.resp <- resp.StatusCode
		}()
		return u
	}
	// finish sends the rest of the body.
	finish := func(u upload) {
		GinkgoHelper()
		rest := bodyBytes - 16<<10 - len(`"}`)
		_, err := io.WriteString(u.conn, strings.Repeat(" ", rest)+`"}`)
		Expect(err).NotTo(HaveOccurred())
	}

	It("holds at most the budget of bodies at once: one more waits, then gets 503; bodiless and small requests pass", func() {
		slots := httpapi.BodyBudgetBytes / bodyBytes
		var ups []upload
		for range slots + 1 {
			ups = append(ups, start())
		}
		By("exactly one upload finds no room and is refused after its wait")
		refused := -1
		Eventually(func() int {
			for i, u := range ups {
				select {
				case st := <-u.resp:
					Expect(refused).To(Equal(-1), "a second upload was answered")
					Expect(st).To(Equal(http.StatusServiceUnavailable))
					refused = i
				default:
				}
			}
			return refused
		}).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).ShouldNot(Equal(-1))

		By("requests without a body, or with a small one, need no room")
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get("http://" + base + "/tweets")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		resp, err = client.Post("http://"+base+"/tweets", "application/json", strings.NewReader(`{"text":"small"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusCreated))

		By("the others were waiting for their bodies all along, and complete")
		for i, u := range ups {
			if i == refused {
				continue
			}
			Expect(u.resp).NotTo(Receive(), "upload %d was answered before its body was sent", i)
			finish(u)
			Eventually(u.resp).WithTimeout(10*time.Second).Should(Receive(Equal(http.StatusCreated)), "upload %d", i)
		}
		u := start()
		finish(u)
		Eventually(u.resp).WithTimeout(10*time.Second).Should(Receive(Equal(http.StatusCreated)), "the room is free again")
	})
})

var _ = Describe("when the database stalls", func() {
	It("answers 503 with Retry-After within the request budget, reports unready, and recovers without a restart", func() {
		u := createUser("stalled", "stalled@example.com")
		saved := createTweet("kept", u.APIKey)
		proxy, db := tdb.Proxied()
		const budget = time.Second
		a := httpapi.New(httpapi.Deps{
			Services: db.Services(), Ready: readyOver(db), RequestTimeout: budget,
		})
		Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodGet, tweetPath(saved.ID)).on(a).status).To(Equal(http.StatusOK))

		proxy.Stall()
		stalled := []request{
			req(http.MethodGet, "/readyz"),
			req(http.MethodGet, "/tweets"),
			req(http.MethodGet, tweetPath(saved.ID)),
			req(http.MethodPost, "/tweets").withJSON(tweetBody("during the stall")),
			req(http.MethodPatch, tweetPath(saved.ID)).withJSON(tweetBody("x")).with("X-API-Key", u.APIKey),
			req(http.MethodPost, "/users").withJSON(userBody("stall_user", "stall@example.com")),
		}
		type timed struct {
			r       result
			elapsed time.Duration
		}
		out := make([]timed, len(stalled))
		var wg sync.WaitGroup
		for i, rq := range stalled {
			wg.Go(func() {
				defer GinkgoRecover()
				start := time.Now()
				r := rq.on(a)
				out[i] = timed{r, time.Since(start)}
			})
		}
		wg.Wait()
		for i, o := range out {
			expectUnavailable(o.r)
			// The budget plus scheduling slack on a busy machine, far below
			// the 5 s the connect timeout or a second budget would add.
			Expect(o.elapsed).To(BeNumerically("<", budget+2*time.Second), "%s %s", stalled[i].method, stalled[i].target)
		}
		Expect(req(http.MethodGet, "/healthz").on(a).status).To(Equal(http.StatusOK))

		proxy.Resume()
		eventuallyOK(a, "/readyz")
		eventuallyOK(a, tweetPath(saved.ID))
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("after the stall")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
	})
})
