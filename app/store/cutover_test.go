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
	"github.com/twitter-api/twitter-api/app/twitter"
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

		tweets := store.NewTweets(tdb.DB)
		_, hash := twitter.NewAPIKey()
		author, err := store.NewUsers(tdb.DB).Create(ctx, twitter.NewUser{Username: "replicated", Email: "replicated@example.com"}, hash)
		Expect(err).NotTo(HaveOccurred())
		create := func(n int, what string) {
			GinkgoHelper()
			for i := range n {
				a := &author
				if i%3 == 0 {
					a = nil
				}
				_, err := tweets.Create(ctx, fmt.Sprintf("%s %d", what, i), a)
				Expect(err).NotTo(HaveOccurred())
			}
		}
		create(40, "before the subscription")
		// Two that commit out of id order, and one deleted.
		low, endLow := insertHeld(ctx, &author.ID)
		_, endHigh := insertHeld(ctx, nil)
		endHigh(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		endLow(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		Expect(tweets.Delete(ctx, low-1, &author)).To(Succeed())

		// 1. The new server gets the schema, then subscribes to everything.
		name := testdb.UniqueName("tw_cutover")
		Expect(testdb.CreateEmpty(ctx, adminURL, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = testdb.Discard(ctx, adminURL, name) })
		dsn, err := testdb.WithDatabase(adminURL, name)
		Expect(err).NotTo(HaveOccurred())
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
		create(20, "during the replication")
		source := newFollower(tweets.List, 7)
		Expect(source.catchUp(ctx)).To(Equal(61))
		half := newFollower(tweets.List, 30)
		p, err := half.list(ctx, twitter.Page{Limit: 30})
		Expect(err).NotTo(HaveOccurred())
		half.cursor = p.Next

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

		// 4. The service moves to the new server.
		moved, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(moved.Close)
		m, err := moved.Migrator()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Up(ctx)).To(BeEmpty(), "bun_migrations is replicated like any table")

		again := store.NewTweets(moved)
		fresh := newFollower(again.List, 7)
		Expect(fresh.catchUp(ctx)).To(Equal(61))
		Expect(fresh.dups).To(BeEmpty())
		Expect(fresh.seen).To(Equal(source.seen))

		// A cursor issued before the cutover goes on where it was.
		half.list = again.List
		Expect(half.catchUp(ctx)).To(Equal(31))
		Expect(half.seen).To(Equal(source.seen[30:]))

		created, err := again.Create(ctx, "after the cutover", &author)
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh.catchUp(ctx)).To(Equal(62))
		Expect(fresh.seen[61]).To(Equal(created.ID), "after every replicated tweet")
		Expect(half.catchUp(ctx)).To(Equal(32))
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
