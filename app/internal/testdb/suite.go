package testdb

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
)

// Handle is a process's database; its fields are set before the first spec.
// Its SQL is for the spec's own statements.
type Handle struct {
	DB *store.DB
	*SQL
	DSN      string // URL of this process's database
	AdminURL string // TEST_DATABASE_URL
	name     string
	template string
}

// Suite wires a Ginkgo suite to its own databases: process 1 creates a
// migrated template, every process clones it, and each spec starts from
// empty tables. Call it once, at the top level of a suite's test files:
//
//	var tdb = testdb.Suite("store")
func Suite(prefix string) *Handle {
	h := &Handle{}
	SynchronizedBeforeSuite(func(ctx SpecContext) []byte {
		u, err := AdminURL()
		Expect(err).NotTo(HaveOccurred())
		tpl := UniqueName("tw_"+prefix) + "_tpl"
		Expect(CreateTemplate(ctx, u, tpl)).To(Succeed())
		return []byte(tpl)
	}, func(ctx SpecContext, tpl []byte) {
		var err error
		h.AdminURL, err = AdminURL()
		Expect(err).NotTo(HaveOccurred())
		h.template = string(tpl)
		h.name = strings.TrimSuffix(h.template, "_tpl") + "_p" + strconv.Itoa(GinkgoParallelProcess())
		h.DSN, err = Clone(ctx, h.AdminURL, h.template, h.name)
		Expect(err).NotTo(HaveOccurred())
		h.DB, err = store.Open(h.DSN, store.Options{MaxOpenConns: 20, MaxIdleConns: 5})
		Expect(err).NotTo(HaveOccurred())
		h.SQL, err = openSQL(h.DSN)
		Expect(err).NotTo(HaveOccurred())
	}, NodeTimeout(2*time.Minute))

	SynchronizedAfterSuite(func(ctx SpecContext) {
		if h.DB != nil {
			_ = h.DB.Close()
		}
		if h.SQL != nil {
			h.pool.Close()
		}
		if h.name != "" {
			Expect(Discard(ctx, h.AdminURL, h.name)).To(Succeed())
		}
	}, func(ctx SpecContext) {
		if h.template != "" {
			Expect(Discard(ctx, h.AdminURL, h.template)).To(Succeed())
		}
	}, NodeTimeout(time.Minute))

	BeforeEach(func(ctx SpecContext) {
		Expect(Truncate(ctx, h.SQL)).To(Succeed())
	})
	return h
}

// Proxied opens a second pool on the process's database through a Proxy
// the spec can cut, and closes both when the spec ends.
func (h *Handle) Proxied() (*Proxy, *store.DB) {
	GinkgoHelper()
	proxy, dsn, err := ProxyFor(h.DSN)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(proxy.Close)
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	return proxy, db
}

// HoldOrder takes tweet_order's row lock, which every create waits for, in
// a transaction the spec rolls back to let them go (or at its end).
func (h *Handle) HoldOrder(ctx context.Context) pgx.Tx {
	GinkgoHelper()
	tx, err := h.Begin(ctx)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) { _ = tx.Rollback(ctx) })
	_, err = tx.Exec(ctx, "SELECT 1 FROM tweet_order FOR UPDATE")
	Expect(err).NotTo(HaveOccurred())
	return tx
}
