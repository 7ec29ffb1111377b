package httpapi_test

import (
	"context"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/readiness"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

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
