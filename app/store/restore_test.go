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

		m := newMoving(ctx, "dumped")
		m.create(ctx, 60, "before the dump")
		m.crossAndDelete(ctx)
		source, half := m.followers(ctx)

		dsn := newDatabase(ctx, adminURL, "tw_restored")
		dump := filepath.Join(GinkgoT().TempDir(), "dump")
		run(ctx, "pg_dump", "--format=custom", "--no-owner", "--file="+dump, "--dbname="+tdb.DSN)
		run(ctx, "pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dsn, dump)

		// As a deploy would: nothing to apply, the dump holds the record.
		restored := openMoved(ctx, dsn)
		// What hid tweets under the xid order: restored transaction ids
		// from a counter that may be ahead of the new server's.
		var ahead bool
		Expect(testdb.OpenSQL(dsn).QueryRow(ctx,
			"SELECT max(xid) > pg_current_xact_id() FROM tweets").Scan(&ahead)).To(Succeed())
		By(fmt.Sprintf("restored transaction ids ahead of the new server's: %v", ahead))

		checkMoved(ctx, store.NewTweets(restored), source, half, nil)
	})
})

// moving is a test database's tweets as a move to another server finds
// them: written by one author, a third of them anonymous.
type moving struct {
	tweets *store.Tweets
	author twitter.User
}

func newMoving(ctx context.Context, username string) *moving {
	GinkgoHelper()
	_, hash := twitter.NewAPIKey()
	author, err := store.NewUsers(tdb.DB).Create(ctx, twitter.NewUser{Username: username, Email: username + "@example.com"}, hash)
	Expect(err).NotTo(HaveOccurred())
	return &moving{tweets: store.NewTweets(tdb.DB), author: author}
}

// create creates n tweets named what, every third anonymous.
func (m *moving) create(ctx context.Context, n int, what string) {
	GinkgoHelper()
	for i := range n {
		a := &m.author
		if i%3 == 0 {
			a = nil
		}
		_, err := m.tweets.Create(ctx, fmt.Sprintf("%s %d", what, i), a)
		Expect(err).NotTo(HaveOccurred())
	}
}

// crossAndDelete adds two tweets that commit out of id order, and deletes
// the tweet before them.
func (m *moving) crossAndDelete(ctx context.Context) {
	GinkgoHelper()
	low, endLow := insertHeld(ctx, &m.author.ID)
	_, endHigh := insertHeld(ctx, nil)
	endHigh(true)
	Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
	endLow(true)
	Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(1)))
	Expect(m.tweets.Delete(ctx, low-1, &m.author)).To(Succeed())
}

// followers returns a follower that has listed all 61 tweets, and one that
// has read the first page of 30.
func (m *moving) followers(ctx context.Context) (source, half *follower) {
	GinkgoHelper()
	source = newFollower(m.tweets.List, 7)
	Expect(source.catchUp(ctx)).To(Equal(61))
	half = newFollower(m.tweets.List, 30)
	p, err := half.list(ctx, twitter.Page{Limit: 30})
	Expect(err).NotTo(HaveOccurred())
	half.cursor = p.Next
	return source, half
}

// newDatabase creates an empty database on the server at adminURL, dropped
// after the spec, and returns its URL.
func newDatabase(ctx context.Context, adminURL, prefix string) string {
	GinkgoHelper()
	name := testdb.UniqueName(prefix)
	Expect(testdb.CreateEmpty(ctx, adminURL, name)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { _ = testdb.Discard(ctx, adminURL, name) })
	dsn, err := testdb.WithDatabase(adminURL, name)
	Expect(err).NotTo(HaveOccurred())
	return dsn
}

// openMoved opens the store on the database moved to dsn, where migrate
// finds nothing to apply: the migration record moved with the data.
func openMoved(ctx context.Context, dsn string) *store.DB {
	GinkgoHelper()
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 4})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	m, err := db.Migrator()
	Expect(err).NotTo(HaveOccurred())
	Expect(m.Up(ctx)).To(BeEmpty())
	return db
}

// checkMoved follows the list of moved, the store on the new server: a new
// follower sees what source saw, in its order; half goes on where its
// cursor stood; a tweet created by author (nil: anonymous) comes after all.
func checkMoved(ctx context.Context, moved *store.Tweets, source, half *follower, author *twitter.User) {
	GinkgoHelper()
	fresh := newFollower(moved.List, 7)
	Expect(fresh.catchUp(ctx)).To(Equal(61))
	Expect(fresh.dups).To(BeEmpty())
	Expect(fresh.seen).To(Equal(source.seen))

	half.list = moved.List
	Expect(half.catchUp(ctx)).To(Equal(31))
	Expect(half.seen).To(Equal(source.seen[30:]))

	created, err := moved.Create(ctx, "after the move", author)
	Expect(err).NotTo(HaveOccurred())
	Expect(fresh.catchUp(ctx)).To(Equal(62))
	Expect(fresh.seen[61]).To(Equal(created.ID), "after every moved tweet")
	Expect(half.catchUp(ctx)).To(Equal(32))
}

// run runs a PostgreSQL client program and fails the spec with its output.
func run(ctx context.Context, name string, args ...string) {
	GinkgoHelper()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "%s: %s", name, out)
}
