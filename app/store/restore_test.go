package store_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// restoreURLVar names a second, fresh PostgreSQL server (make test starts
// one): a dump of a test database is restored into it.
const restoreURLVar = "TEST_RESTORE_DATABASE_URL"

var _ = Describe("A database restored from pg_dump into a fresh server", func() {
	It("lists every tweet exactly once in the same order, keeps its cursors, then lists new tweets after them", func(ctx SpecContext) {
		adminURL := os.Getenv(restoreURLVar)
		Expect(adminURL).NotTo(BeEmpty(), "%s names the server to restore into; make test sets it", restoreURLVar)

		tweets := store.NewTweets(tdb.DB)
		_, hash := twitter.NewAPIKey()
		author, err := store.NewUsers(tdb.DB).Create(ctx, twitter.NewUser{Username: "dumped", Email: "dumped@example.com"}, hash)
		Expect(err).NotTo(HaveOccurred())
		for i := range 60 {
			a := &author
			if i%3 == 0 {
				a = nil
			}
			_, err := tweets.Create(ctx, fmt.Sprintf("before the dump %d", i), a)
			Expect(err).NotTo(HaveOccurred())
		}
		// Two that commit out of id order, and one deleted.
		low, endLow := insertHeld(ctx, &author.ID)
		_, endHigh := insertHeld(ctx, nil)
		endHigh(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		endLow(true)
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
		Expect(tweets.Delete(ctx, low-1, &author)).To(Succeed())

		source := newFollower(tweets.List, 7)
		Expect(source.catchUp(ctx)).To(Equal(61))
		half := newFollower(tweets.List, 30)
		p, err := half.list(ctx, twitter.Page{Limit: 30})
		Expect(err).NotTo(HaveOccurred())
		half.cursor = p.Next

		name := testdb.UniqueName("tw_restored")
		Expect(testdb.CreateEmpty(ctx, adminURL, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = testdb.Discard(ctx, adminURL, name) })
		dsn, err := testdb.WithDatabase(adminURL, name)
		Expect(err).NotTo(HaveOccurred())
		dump := filepath.Join(GinkgoT().TempDir(), "dump")
		run(ctx, "pg_dump", "--format=custom", "--no-owner", "--file="+dump, "--dbname="+tdb.DSN)
		run(ctx, "pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dsn, dump)

		restored, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(restored.Close)
		// As a deploy would: nothing to apply, the dump holds the record.
		m, err := restored.Migrator()
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Up(ctx)).To(BeEmpty())
		// What hid tweets under the xid order: restored transaction ids
		// from a counter that may be ahead of the new server's.
		var ahead bool
		Expect(testdb.OpenSQL(dsn).QueryRow(ctx,
			"SELECT max(xid) > pg_current_xact_id() FROM tweets").Scan(&ahead)).To(Succeed())
		By(fmt.Sprintf("restored transaction ids ahead of the new server's: %v", ahead))

		again := store.NewTweets(restored)
		fresh := newFollower(again.List, 7)
		Expect(fresh.catchUp(ctx)).To(Equal(61))
		Expect(fresh.dups).To(BeEmpty())
		Expect(fresh.seen).To(Equal(source.seen))

		// A cursor issued before the dump goes on where it was.
		half.list = again.List
		Expect(half.catchUp(ctx)).To(Equal(31))
		Expect(half.seen).To(Equal(source.seen[30:]))

		created, err := again.Create(ctx, "after the restore", nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(fresh.catchUp(ctx)).To(Equal(62))
		Expect(fresh.seen[61]).To(Equal(created.ID), "after every restored tweet")
		Expect(half.catchUp(ctx)).To(Equal(32))
	})
})

// run runs a PostgreSQL client program and fails the spec with its output.
func run(ctx context.Context, name string, args ...string) {
	GinkgoHelper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s: %s", name, out)
}
