package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
)

// The serve specs about the database: away, saturated, not yet migrated.
var _ = Describe("serve", func() {
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
})
