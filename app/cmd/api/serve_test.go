package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
)

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
