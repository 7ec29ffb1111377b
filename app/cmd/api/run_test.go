package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/migrations"
)

// runNow runs a command that must return by itself, with a deadline so a
// command that wrongly starts serving fails the spec instead of hanging it.
func runNow(e env, args ...string) (string, error) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, append([]string{"api"}, args...), e.get, &out)
	Expect(ctx.Err()).NotTo(HaveOccurred(), "run did not return by itself")
	return out.String(), err
}

var _ = Describe("serve", func() {
	It("serves the API over real HTTP: health, users, tweets, logs, and a clean stop", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN})

		By("/healthz: status, version and the process start to the millisecond")
		r := do(client, http.MethodGet, s.base+"/healthz", "")
		Expect(r.status).To(Equal(http.StatusOK))
		h := r.object()
		Expect(h).To(HaveKeyWithValue("status", "ok"))
		Expect(h).To(HaveKeyWithValue("version", version))
		startedAt, ok := h["started_at"].(string)
		Expect(ok).To(BeTrue())
		Expect(startedAt).To(MatchRegexp(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`))
		parsed, err := time.Parse(time.RFC3339Nano, startedAt)
		Expect(err).NotTo(HaveOccurred())
		Expect(parsed.Equal(processStart.Truncate(time.Millisecond))).To(BeTrue(), "started_at %s is not the process start %s", startedAt, processStart.UTC().Format(time.RFC3339Nano))

		By("/readyz, /hello and /")
		r = do(client, http.MethodGet, s.base+"/readyz", "")
		Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
		Expect(r.object()).To(HaveKeyWithValue("status", "ready"))
		r = do(client, http.MethodGet, s.base+"/hello", "")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(string(r.body)).To(Equal("Goodbye World!"))
		r = do(client, http.MethodGet, s.base+"/", "")
		Expect(r.status).To(Equal(http.StatusFound))
		Expect(r.header.Get("Location")).To(Equal("/swagger/index.html"))
		r = do(client, http.MethodGet, s.base+"/swagger/index.html", "")
		Expect(r.status).To(Equal(http.StatusOK))

		By("creating a user")
		r = do(client, http.MethodPost, s.base+"/users", `{"username":"e2e_user","email":"e2e@example.com"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		user := r.object()
		key, _ := user["api_key"].(string)
		Expect(key).To(MatchRegexp(`^tw_[A-Za-z0-9_-]{43}$`))
		userID := int64(user["id"].(float64))
		Expect(r.header.Get("Location")).To(Equal(fmt.Sprintf("/users/%d", userID)))

		By("creating a tweet as that user, with a request id")
		r = do(client, http.MethodPost, s.base+"/tweets", `{"text":"  over the wire  "}`,
			"X-API-Key", key, "X-Request-ID", "e2e-create-1")
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		Expect(r.header.Get("X-Request-ID")).To(Equal("e2e-create-1"))
		created := r.object()
		Expect(created).To(HaveKeyWithValue("text", "over the wire"))
		Expect(created).To(HaveKeyWithValue("user", map[string]any{"id": float64(userID), "username": "e2e_user"}))
		loc := r.header.Get("Location")
		Expect(loc).To(MatchRegexp(`^/tweets/\d+$`))

		By("reading them back")
		r = do(client, http.MethodGet, s.base+loc, "")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.object()).To(Equal(created))
		r = do(client, http.MethodGet, fmt.Sprintf("%s/users/%d", s.base, userID), "")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.object()).To(SatisfyAll(apitest.MatchSchema("User"), HaveKeyWithValue("id", float64(userID)),
			HaveKeyWithValue("username", "e2e_user"), HaveKeyWithValue("created_at", user["created_at"])))
		r = do(client, http.MethodGet, fmt.Sprintf("%s/users/%d/tweets", s.base, userID), "")
		Expect(r.status).To(Equal(http.StatusOK))
		var list []map[string]any
		Expect(json.Unmarshal(r.body, &list)).To(Succeed())
		Expect(list).To(Equal([]map[string]any{created}))

		By("changing and deleting it as the author only")
		expectProblem(do(client, http.MethodPatch, s.base+loc, `{"text":"nope"}`), http.StatusUnauthorized)
		r = do(client, http.MethodPatch, s.base+loc, `{"text":"edited"}`, "X-API-Key", key)
		Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
		Expect(r.object()).To(HaveKeyWithValue("text", "edited"))
		r = do(client, http.MethodDelete, s.base+loc, "", "X-API-Key", key)
		Expect(r.status).To(Equal(http.StatusNoContent))
		expectProblem(do(client, http.MethodGet, s.base+loc, ""), http.StatusNotFound)
		expectProblem(do(client, http.MethodGet, s.base+"/nope", ""), http.StatusNotFound)

		By("logging one JSON line per request, with the request id")
		Eventually(s.out).Should(gbytes.Say(`"request_id":"e2e-create-1"`))
		var found map[string]any
		for _, l := range logLines(s.out) {
			if l["request_id"] == "e2e-create-1" {
				found = l
			}
		}
		Expect(found).To(HaveKeyWithValue("msg", "request"))
		Expect(found).To(HaveKeyWithValue("method", "POST"))
		Expect(found).To(HaveKeyWithValue("path", "/tweets"))
		Expect(found).To(HaveKeyWithValue("status", BeNumerically("==", http.StatusCreated)))

		By("stopping when the context is cancelled")
		s.stop()
		_, err = net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
		Expect(err).To(HaveOccurred(), "the port still accepts connections after run returned")
		Expect(string(s.out.Contents())).To(ContainSubstring(`"msg":"stopped"`))
	})

	It("finishes a request in flight when shut down, then returns nil", func() {
		// service -> gate (holds the connection) -> proxy (500 ms delay) -> PostgreSQL
		proxy, _, err := testdb.ProxyFor(tdb.DSN)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		proxy.SetDelay(500 * time.Millisecond)
		g := startGate(proxy.Addr())
		s := startServer(env{"DATABASE_URL": withHost(tdb.DSN, g.addr())})

		oneShot := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		inFlight := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			inFlight <- do(oneShot, http.MethodPost, s.base+"/tweets", `{"text":"written during shutdown"}`)
		}()

		By("waiting until the request waits for the database")
		Eventually(g.accepted).WithTimeout(10 * time.Second).Should(BeClosed())
		Expect(inFlight).NotTo(Receive(), "answered before the database did")

		By("cancelling run's context: the listener closes, run waits")
		s.cancel()
		Eventually(func() error {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), time.Second)
			if err == nil {
				c.Close()
			}
			return err
		}).WithTimeout(10 * time.Second).Should(HaveOccurred())
		Eventually(s.out).Should(gbytes.Say("shutting down"))
		Expect(s.done).NotTo(BeClosed(), "run returned with a request in flight")

		By("letting the database answer")
		g.open()
		var r result
		Eventually(inFlight).WithTimeout(20 * time.Second).Should(Receive(&r))
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		s.stop()

		var n int
		Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM tweets WHERE text = $1", "written during shutdown").
			Scan(&n)).To(Succeed())
		Expect(n).To(Equal(1))
	})

	It("gives up on a request that outlasts SHUTDOWN_TIMEOUT and says so", func() {
		u, err := url.Parse(tdb.DSN)
		Expect(err).NotTo(HaveOccurred())
		g := startGate(u.Host)
		s := startServer(env{"DATABASE_URL": withHost(tdb.DSN, g.addr()), "SHUTDOWN_TIMEOUT": "300ms", "REQUEST_TIMEOUT": "1m"})
		oneShot := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		stuck := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			stuck <- do(oneShot, http.MethodPost, s.base+"/tweets", `{"text":"stuck"}`)
		}()
		Eventually(g.accepted).WithTimeout(10 * time.Second).Should(BeClosed())

		s.cancel() // the gate never lets the request reach the database
		Eventually(s.done).WithTimeout(20 * time.Second).Should(BeClosed())
		Expect(s.err).To(MatchError(ContainSubstring("shutdown")))
		Expect(s.err).To(MatchError(context.DeadlineExceeded))
		Expect(string(s.out.Contents())).To(ContainSubstring("drain budget spent"))

		By("the request still running was cancelled and told so, long before its one-minute budget")
		var r result
		Eventually(stuck).WithTimeout(5 * time.Second).Should(Receive(&r))
		expectProblem(r, http.StatusServiceUnavailable)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
	})

	It("answers 503 with Retry-After while the database is away and recovers without a restart", func() {
		proxy, dsn, err := testdb.ProxyFor(tdb.DSN)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(proxy.Close)
		s := startServer(env{"DATABASE_URL": dsn})

		r := do(client, http.MethodPost, s.base+"/tweets", `{"text":"before the outage"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		Expect(do(client, http.MethodGet, s.base+"/readyz", "").status).To(Equal(http.StatusOK))

		proxy.Down()
		for _, target := range []string{"/readyz", "/tweets", "/tweets/1"} {
			r := do(client, http.MethodGet, s.base+target, "")
			expectProblem(r, http.StatusServiceUnavailable)
			Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9]\d*$`), target)
		}
		r = do(client, http.MethodPost, s.base+"/tweets", `{"text":"during the outage"}`)
		expectProblem(r, http.StatusServiceUnavailable)
		Expect(r.header.Get("Retry-After")).NotTo(BeEmpty())
		Expect(do(client, http.MethodGet, s.base+"/healthz", "").status).To(Equal(http.StatusOK))

		Expect(proxy.Up()).To(Succeed())
		Eventually(func() int {
			return do(client, http.MethodGet, s.base+"/readyz", "").status
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))
		Eventually(func() int {
			return do(client, http.MethodGet, s.base+"/tweets", "").status
		}).WithTimeout(20 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))
		r = do(client, http.MethodPost, s.base+"/tweets", `{"text":"after the outage"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		r = do(client, http.MethodGet, s.base+"/tweets", "")
		var list []map[string]any
		Expect(json.Unmarshal(r.body, &list)).To(Succeed())
		Expect(list).To(HaveLen(2))
		Expect(list[0]).To(HaveKeyWithValue("text", "before the outage"))
		Expect(list[1]).To(HaveKeyWithValue("text", "after the outage"))
		s.stop()
	})

	It("keeps /readyz at 200 while every pooled connection waits on PostgreSQL, and /healthz never asks it", func(ctx SpecContext) {
		s := startServer(env{"DATABASE_URL": tdb.DSN, "DB_MAX_OPEN_CONNS": "1", "REQUEST_TIMEOUT": "3s"})
		Expect(do(client, http.MethodGet, s.base+"/readyz", "").status).To(Equal(http.StatusOK))

		By("a lock on tweets: a list holds the pool's only connection, waiting, and others queue for it")
		tx, err := tdb.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) { _ = tx.Rollback(ctx) })
		_, err = tx.Exec(ctx, "LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE")
		Expect(err).NotTo(HaveOccurred())
		const queued = 4
		lists := make(chan result, queued)
		for range queued {
			go func() {
				defer GinkgoRecover()
				lists <- do(client, http.MethodGet, s.base+"/tweets", "")
			}()
		}
		Eventually(func() (int, error) { return tdb.ServiceLockWaits(ctx) }).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Equal(1), "the pool's one connection waits on the lock")

		for range 3 {
			r := do(client, http.MethodGet, s.base+"/readyz", "")
			Expect(r.status).To(Equal(http.StatusOK), "readiness on a connection of its own: %s", r)
		}
		Expect(do(client, http.MethodGet, s.base+"/healthz", "").status).To(Equal(http.StatusOK))

		Expect(tx.Rollback(ctx)).To(Succeed())
		for range queued {
			var r result
			Eventually(lists).WithTimeout(10 * time.Second).Should(Receive(&r))
			Expect(r.status).To(BeElementOf(http.StatusOK, http.StatusServiceUnavailable), "%s", r)
		}
		Expect(do(client, http.MethodGet, s.base+"/tweets", "").status).To(Equal(http.StatusOK))
		s.stop()
	})

	It("takes no traffic before its migrations are applied: /readyz 503 naming the schema, then 200 after migrate up", func(ctx SpecContext) {
		name := testdb.UniqueName("tw_e2e_behind")
		Expect(testdb.CreateEmpty(ctx, tdb.AdminURL, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(testdb.Discard(ctx, tdb.AdminURL, name)).To(Succeed()) })
		dsn, err := testdb.WithDatabase(tdb.AdminURL, name)
		Expect(err).NotTo(HaveOccurred())
		s := startServer(env{"DATABASE_URL": dsn})

		for range 2 {
			r := do(client, http.MethodGet, s.base+"/readyz", "")
			expectProblem(r, http.StatusServiceUnavailable)
			Expect(string(r.body)).To(ContainSubstring("lacks migrations"))
		}
		Expect(do(client, http.MethodGet, s.base+"/healthz", "").status).To(Equal(http.StatusOK))
		Eventually(s.out).Should(gbytes.Say(`migration\(s\) pending: 20261126000001_create_users`), "the log names what is missing")

		out, err := runNow(env{"DATABASE_URL": dsn}, "migrate", "up")
		Expect(err).NotTo(HaveOccurred(), out)
		r := do(client, http.MethodGet, s.base+"/readyz", "")
		Expect(r.status).To(Equal(http.StatusOK), "ready at the next check: %s", r)
		Expect(do(client, http.MethodPost, s.base+"/users", `{"username":"first","email":"first@example.com"}`).status).
			To(Equal(http.StatusCreated))
		s.stop()
	})

	It("serves by default when no command is given", func() {
		port := freePort()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		out := gbytes.NewBuffer()
		go func() {
			defer GinkgoRecover()
			done <- run(ctx, []string{"api"}, env{"DATABASE_URL": tdb.DSN, "PORT": strconv.Itoa(port), "SHUTDOWN_DELAY": "0"}.get, out)
		}()
		DeferCleanup(cancel)
		Eventually(out).WithTimeout(20 * time.Second).Should(gbytes.Say(`"msg":"serving"`))
		r := do(client, http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/hello", port), "")
		Expect(string(r.body)).To(Equal("Goodbye World!"))
		cancel()
		Eventually(done).WithTimeout(20 * time.Second).Should(Receive(BeNil()))
	})

	It("fails at once when the port is taken", func() {
		ln, err := net.Listen("tcp", ":0")
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ln.Close)
		port := ln.Addr().(*net.TCPAddr).Port
		// An admin port of its own: parallel specs would race for the default.
		_, err = runNow(env{"DATABASE_URL": tdb.DSN, "PORT": strconv.Itoa(port), "ADMIN_ADDR": "127.0.0.1:0"}, "serve")
		Expect(err).To(MatchError(ContainSubstring("listen")))
		Expect(err).To(MatchError(ContainSubstring(strconv.Itoa(port))))
	})

	DescribeTable("refuses bad configuration with an error naming the variable",
		func(e env, args []string, names ...string) {
			out, err := runNow(e, args...)
			Expect(err).To(HaveOccurred())
			for _, n := range names {
				Expect(err.Error()).To(ContainSubstring(n))
			}
			Expect(out).NotTo(ContainSubstring("serving"))
		},
		Entry("serve without DATABASE_URL", env{}, []string{"serve"}, "DATABASE_URL"),
		Entry("serve with a blank DATABASE_URL", env{"DATABASE_URL": "   "}, []string{"serve"}, "DATABASE_URL"),
		Entry("serve with PORT=abc", env{"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "PORT": "abc"}, []string{"serve"}, "PORT", `"abc"`),
		Entry("serve with PORT=0", env{"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "PORT": "0"}, []string{"serve"}, "PORT"),
		Entry("serve with PORT=65536", env{"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "PORT": "65536"}, []string{"serve"}, "PORT"),
		Entry("every problem at once", env{"PORT": "abc", "LOG_LEVEL": "loud"}, []string{"serve"}, "DATABASE_URL", "PORT", "LOG_LEVEL"),
		Entry("a bad duration", env{"DATABASE_URL": "postgres://u:p@127.0.0.1:1/db", "SHUTDOWN_TIMEOUT": "soon"}, []string{"serve"}, "SHUTDOWN_TIMEOUT"),
		Entry("a DATABASE_URL that does not parse", env{"DATABASE_URL": "postgres://u:p@127.0.0.1:notaport/db"}, []string{"serve"}, "DATABASE_URL"),
		Entry("migrate up without DATABASE_URL", env{}, []string{"migrate", "up"}, "DATABASE_URL"),
		Entry("migrate status without DATABASE_URL", env{}, []string{"migrate", "status"}, "DATABASE_URL"),
		Entry("healthcheck with PORT=abc", env{"PORT": "abc"}, []string{"healthcheck"}, "PORT"),
	)
})

var _ = Describe("migrate", func() {
	var (
		dsn string
		e   env
	)

	// exists reports whether table exists in the spec's fresh database.
	exists := func(table string) bool {
		GinkgoHelper()
		var name *string
		Expect(testdb.OpenSQL(dsn).QueryRow(context.Background(), "SELECT to_regclass($1)::text", "public."+table).
			Scan(&name)).To(Succeed())
		return name != nil
	}

	// Specs that migrate get an empty database of their own; the others
	// never touch the process's one.
	BeforeEach(func() { e = env{"DATABASE_URL": tdb.DSN} })
	freshDatabase := func(ctx SpecContext) {
		GinkgoHelper()
		name := testdb.UniqueName("tw_e2e_fresh")
		Expect(testdb.CreateEmpty(ctx, tdb.AdminURL, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(testdb.Discard(ctx, tdb.AdminURL, name)).To(Succeed())
		})
		var err error
		dsn, err = testdb.WithDatabase(tdb.AdminURL, name)
		Expect(err).NotTo(HaveOccurred())
		e["DATABASE_URL"] = dsn
	}

	It("applies, reports, rolls back and reapplies the schema on an empty database", func(ctx SpecContext) {
		freshDatabase(ctx)
		// Every embedded migration, so a new one needs no edit here.
		all, err := migrations.Names()
		Expect(err).NotTo(HaveOccurred())
		Expect(all).NotTo(BeEmpty())
		newestFirst := slices.Clone(all)
		slices.Reverse(newestFirst)
		report := func(verb string, names []string) string {
			var b strings.Builder
			for _, n := range names {
				b.WriteString(verb + " " + n + "\n")
			}
			return b.String()
		}
		Expect(exists("users")).To(BeFalse())

		By("status before anything: every migration pending")
		out, err := runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^MIGRATION\s+STATUS\s+GROUP\s+APPLIED AT$`))
		for _, name := range all {
			Expect(out).To(MatchRegexp(`(?m)^%s\s+pending\s+-\s+-$`, name))
		}

		By("up")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("applied", all)))
		Expect(exists("users")).To(BeTrue())
		Expect(exists("tweets")).To(BeTrue())

		By("status after up: applied, group 1, with a time")
		out, err = runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range all {
			m := regexp.MustCompile(`(?m)^` + name + `\s+applied\s+1\s+(\S+)$`).FindStringSubmatch(out)
			Expect(m).To(HaveLen(2), "status output:\n%s", out)
			_, err := time.Parse(time.RFC3339, m[1])
			Expect(err).NotTo(HaveOccurred())
		}

		By("up again: nothing to do")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("nothing applied\n"))

		By("down: one migration at a time, newest first, the last even after a first deploy")
		for _, name := range newestFirst {
			out, err = runNow(e, "migrate", "down")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(report("rolled back", []string{name})))
		}
		Expect(exists("users")).To(BeFalse())
		Expect(exists("tweets")).To(BeFalse())

		out, err = runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range all {
			Expect(out).To(MatchRegexp(`(?m)^%s\s+pending`, name))
		}

		out, err = runNow(e, "migrate", "down")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("nothing rolled back\n"))

		By("up once more, and the service works on the result")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("applied", all)))
		s := startServer(env{"DATABASE_URL": dsn})
		r := do(client, http.MethodPost, s.base+"/tweets", `{"text":"on a fresh schema"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		s.stop()

		By("down takes --force and nothing else")
		_, err = runNow(e, "migrate", "down", "now")
		Expect(err).To(MatchError(ContainSubstring("want nothing or --force")))
		out, err = runNow(e, "migrate", "down", "--force")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("rolled back", newestFirst[:1])))
	})

	It("works with a pool of one connection, though the lock holds one", func(ctx SpecContext) {
		freshDatabase(ctx)
		e["DB_MAX_OPEN_CONNS"], e["DB_MAX_IDLE_CONNS"] = "1", "1"
		done := make(chan error, 1)
		go func() { _, err := runNow(e, "migrate", "up"); done <- err }()
		Eventually(done).WithContext(ctx).WithTimeout(20 * time.Second).Should(Receive(BeNil()))
		Expect(exists("tweets")).To(BeTrue())
	})

	It("fails with an error when the database cannot be reached", func() {
		_, err := runNow(env{"DATABASE_URL": fmt.Sprintf("postgres://postgres:pw@127.0.0.1:%d/nowhere?sslmode=disable&connect_timeout=2", freePort())},
			"migrate", "up")
		Expect(err).To(MatchError(ContainSubstring("migrate up")))
	})

	It("errors without a subcommand", func() {
		_, err := runNow(e, "migrate")
		Expect(err).To(MatchError(ContainSubstring("missing subcommand")))
	})

	It("errors on an unknown subcommand, naming it, and changes nothing", func(ctx SpecContext) {
		freshDatabase(ctx)
		_, err := runNow(e, "migrate", "sideways")
		Expect(err).To(MatchError(ContainSubstring(`unknown subcommand "sideways"`)))
		Expect(exists("users")).To(BeFalse())
	})

	It("names an unknown subcommand even when DATABASE_URL is not set", func() {
		_, err := runNow(env{}, "migrate", "sideways")
		Expect(err).To(MatchError(ContainSubstring(`unknown subcommand "sideways"`)))
		Expect(err.Error()).NotTo(ContainSubstring("DATABASE_URL"))
	})

	Describe("create", func() {
		var dir string

		BeforeEach(func() {
			dir = GinkgoT().TempDir()
			e["MIGRATIONS_DIR"] = dir
		})

		It("writes an up and a down file named after the migration", func() {
			out, err := runNow(e, "migrate", "create", "add_likes")
			Expect(err).NotTo(HaveOccurred())
			entries, err := os.ReadDir(dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(2))
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			Expect(names[0]).To(MatchRegexp(`^\d{14}_add_likes\.tx\.down\.sql$`))
			Expect(names[1]).To(MatchRegexp(`^\d{14}_add_likes\.tx\.up\.sql$`))
			Expect(strings.TrimSuffix(names[0], ".tx.down.sql")).To(Equal(strings.TrimSuffix(names[1], ".tx.up.sql")))
			Expect(out).To(Equal(fmt.Sprintf("created %s\ncreated %s\n",
				filepath.Join(dir, names[1]), filepath.Join(dir, names[0]))))
			for _, n := range names {
				b, err := os.ReadFile(filepath.Join(dir, n))
				Expect(err).NotTo(HaveOccurred())
				Expect(string(b)).To(HavePrefix("-- add_likes: "))
			}
		})

		It("needs no database", func() {
			delete(e, "DATABASE_URL")
			_, err := runNow(e, "migrate", "create", "offline")
			Expect(err).NotTo(HaveOccurred())
			entries, err := os.ReadDir(dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(2))
		})

		DescribeTable("rejects a bad name, writing nothing",
			func(args ...string) {
				_, err := runNow(e, append([]string{"migrate", "create"}, args...)...)
				Expect(err).To(HaveOccurred())
				entries, err := os.ReadDir(dir)
				Expect(err).NotTo(HaveOccurred())
				Expect(entries).To(BeEmpty())
			},
			Entry("upper case", "AddLikes"),
			Entry("a hyphen", "add-likes"),
			Entry("a space", "add likes"),
			Entry("a path", "../escape"),
			Entry("a slash", "a/b"),
			Entry("empty", ""),
			Entry("missing"),
			Entry("two names", "one", "two"),
		)

		It("fails when the directory does not exist", func() {
			e["MIGRATIONS_DIR"] = filepath.Join(dir, "missing")
			_, err := runNow(e, "migrate", "create", "add_likes")
			Expect(err).To(MatchError(ContainSubstring("create migration")))
		})
	})
})

var _ = Describe("other commands", func() {
	It("healthcheck succeeds against a running server", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN})
		_, err := runNow(env{"PORT": strconv.Itoa(s.port)}, "healthcheck")
		Expect(err).NotTo(HaveOccurred())
	})

	It("healthcheck fails when nothing listens", func() {
		_, err := runNow(env{"PORT": strconv.Itoa(freePort())}, "healthcheck")
		Expect(err).To(MatchError(ContainSubstring("healthcheck")))
	})

	It("healthcheck fails when the server does not answer 200", func() {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}), ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = srv.Serve(ln) }()
		DeferCleanup(srv.Close)
		_, err = runNow(env{"PORT": strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, "healthcheck")
		Expect(err).To(MatchError(ContainSubstring("503")))
	})

	It("version prints the version", func() {
		out, err := runNow(env{}, "version")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(version + "\n"))
		Expect(version).NotTo(BeEmpty())
	})

	DescribeTable("help prints the usage",
		func(arg string) {
			out, err := runNow(env{}, arg)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HavePrefix("usage: api"))
			for _, cmd := range []string{"serve", "migrate up", "migrate down", "migrate status", "migrate create NAME", "healthcheck", "version"} {
				Expect(out).To(ContainSubstring(cmd))
			}
		},
		Entry("help", "help"),
		Entry("-h", "-h"),
		Entry("--help", "--help"),
	)

	It("an unknown command is an error naming it, with the usage", func() {
		out, err := runNow(env{"DATABASE_URL": tdb.DSN}, "frobnicate")
		Expect(err).To(MatchError(ContainSubstring(`unknown command "frobnicate"`)))
		Expect(err.Error()).To(ContainSubstring("usage: api"))
		Expect(out).To(BeEmpty())
	})
})
