package store_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
)

// sourceHostVar names the test server's host and port as the second server
// reaches it, when that differs from TEST_DATABASE_URL's (make test: both
// are on one network, so it does not).
const sourceHostVar = "TEST_REPLICATION_SOURCE_HOST"

// The steps of docs/lists.md's cutover, in order, on a test database (the
// publisher, wal_level=logical in make test) and a fresh database on the
// second server (the subscriber).
var _ = Describe("A logical-replication cutover to a fresh server", func() {
	It("lists every tweet exactly once in the same order, keeps its cursors, then lists new tweets after them", func(ctx SpecContext) {
		adminURL := os.Getenv(restoreURLVar)
		Expect(adminURL).NotTo(BeEmpty(), "%s names the server to cut over to; make test sets it", restoreURLVar)
		var walLevel string
		Expect(tdb.QueryRow(ctx, "SHOW wal_level").Scan(&walLevel)).To(Succeed())
		Expect(walLevel).To(Equal("logical"), "the test server publishes with wal_level=logical; make test sets it")

		m := newMoving(ctx, "replicated")
		m.create(ctx, 40, "before the subscription")
		m.crossAndDelete(ctx)

		// 1. The new server gets the schema, then subscribes to everything.
		dsn := newDatabase(ctx, adminURL, "tw_cutover")
		schema := filepath.Join(GinkgoT().TempDir(), "schema")
		run(ctx, "pg_dump", "--format=custom", "--schema-only", "--no-owner", "--file="+schema, "--dbname="+tdb.DSN)
		run(ctx, "pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dsn, schema)

		// Without a primary key, a published table refuses updates and
		// deletes on the old server: a migration must not add one so.
		var keyless string
		Expect(tdb.QueryRow(ctx, `SELECT coalesce(string_agg(c.relname, ', ' ORDER BY c.relname), '') FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r' AND n.nspname = 'public'
	AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)`).Scan(&keyless)).To(Succeed())
		Expect(keyless).To(BeEmpty(), "tables without a primary key")

		pub := pgx.Identifier{testdb.UniqueName("cutover")}.Sanitize()
		Expect(tdb.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR ALL TABLES")).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = tdb.Exec(ctx, "DROP PUBLICATION IF EXISTS "+pub) })
		sub, err := pgx.Connect(ctx, dsn)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { _ = sub.Close(ctx) })
		_, err = sub.Exec(ctx, fmt.Sprintf("CREATE SUBSCRIPTION cutover CONNECTION %s PUBLICATION %s",
			quoteLiteral(publisherConnString(tdb.DSN)), pub))
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			// Drops the publisher's replication slot, or its WAL is kept.
			_, _ = sub.Exec(ctx, "ALTER SUBSCRIPTION cutover DISABLE")
			_, _ = sub.Exec(ctx, "ALTER SUBSCRIPTION cutover SET (slot_name = NONE)")
			_, _ = sub.Exec(ctx, "DROP SUBSCRIPTION IF EXISTS cutover")
			_ = tdb.Exec(ctx, "SELECT pg_drop_replication_slot('cutover') FROM pg_replication_slots WHERE slot_name = 'cutover'")
		})

		// Writes go on while the tables copy and stream.
		m.create(ctx, 20, "during the replication")
		source, half := m.followers(ctx)

		// 2. Writes stop; the subscriber catches up with the publisher's
		// last write.
		var lsn string
		Expect(tdb.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn)).To(Succeed())
		Eventually(func(g Gomega) {
			var synced bool
			g.Expect(sub.QueryRow(ctx, `SELECT NOT EXISTS (SELECT FROM pg_subscription_rel WHERE srsubstate <> 'r')
	AND coalesce((SELECT latest_end_lsn >= $1::pg_lsn FROM pg_stat_subscription WHERE subname = 'cutover' AND relid IS NULL), false)`,
				lsn).Scan(&synced)).To(Succeed())
			g.Expect(synced).To(BeTrue())
		}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Succeed())

		// 3. Logical replication carries no sequence values: set each from
		// the publisher's.
		rows, err := tdb.Query(ctx, `SELECT format('%I.%I', schemaname, sequencename), last_value
	FROM pg_sequences WHERE last_value IS NOT NULL`)
		Expect(err).NotTo(HaveOccurred())
		seqs := map[string]int64{}
		for rows.Next() {
			var (
				seq  string
				last int64
			)
			Expect(rows.Scan(&seq, &last)).To(Succeed())
			seqs[seq] = last
		}
		Expect(rows.Err()).NotTo(HaveOccurred())
		Expect(seqs).NotTo(BeEmpty())
		for seq, last := range seqs {
			_, err := sub.Exec(ctx, "SELECT setval($1::regclass, $2)", seq, last)
			Expect(err).NotTo(HaveOccurred())
		}

		// 4. The service moves to the new server; bun_migrations is
		// replicated like any table.
		checkMoved(ctx, store.NewTweets(openMoved(ctx, dsn)), source, half, &m.author)
	})
})

// publisherConnString is dsn as the second server reaches it: with the host
// of TEST_REPLICATION_SOURCE_HOST when set.
func publisherConnString(dsn string) string {
	GinkgoHelper()
	u, err := url.Parse(dsn)
	Expect(err).NotTo(HaveOccurred())
	if h := os.Getenv(sourceHostVar); h != "" {
		u.Host = h
	}
	return u.String()
}

// quoteLiteral is s as a standard-conforming SQL string literal.
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
