package migrations_test

import (
	"context"
	"slices"
	"sync"
	"testing/fstest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/store"
)

// all and created come from the embedded files, so a new migration needs no
// edit here.
var (
	all     = mustNames()
	created = migrations.CreatedTables()
)

func mustNames() []string {
	names, err := migrations.Names()
	if err != nil {
		panic(err)
	}
	return names
}

// reversed is names newest first, the order Down undoes them in.
func reversed(names []string) []string {
	out := slices.Clone(names)
	slices.Reverse(out)
	return out
}

var _ = Describe("Migrator", func() {
	var (
		dsn    string
		db     *store.DB
		own    *testdb.SQL
		m      *migrations.Migrator
		tables func(context.Context) []string
	)
	BeforeEach(func(ctx SpecContext) {
		e := newEmptyDatabase(ctx)
		dsn, db, own, m, tables = e.dsn, e.db, e.own, e.m, e.tables
	})

	It("goes up, down and up again", func(ctx SpecContext) {
		Expect(all).NotTo(BeEmpty())
		Expect(created).To(ContainElements("users", "tweets"))
		Expect(m.Up(ctx)).To(Equal(all))
		Expect(tables(ctx)).To(ConsistOf(created))
		Expect(m.Up(ctx)).To(BeEmpty())

		for _, name := range reversed(all) {
			Expect(m.Down(ctx, migrations.DownOptions{})).To(Equal(name), "one migration at a time, newest first")
		}
		Expect(tables(ctx)).To(BeEmpty())
		Expect(m.Down(ctx, migrations.DownOptions{})).To(BeEmpty(), "nothing left to roll back")

		Expect(m.Up(ctx)).To(Equal(all))
		Expect(tables(ctx)).To(ConsistOf(created))
	})

	It("rolls back only the newest migration of a first deploy, which applied all in one group", func(ctx SpecContext) {
		Expect(m.Up(ctx)).To(Equal(all))
		Expect(m.Down(ctx, migrations.DownOptions{})).To(Equal(all[len(all)-1]))
		Expect(m.Pending(ctx)).To(Equal(all[len(all)-1:]))
		Expect(tables(ctx)).To(ContainElements("users", "tweets"), "the older migrations stay applied")
	})

	It("refuses to roll back a migration that drops a table holding rows, unless forced", func(ctx SpecContext) {
		notes := fstest.MapFS{
			"1_notes.tx.up.sql":   {Data: []byte("CREATE TABLE notes (id int);")},
			"1_notes.tx.down.sql": {Data: []byte("-- DROP TABLE users; is only a comment\nDROP TABLE notes;")},
		}
		nm, err := db.Migrator(migrations.WithFS(notes))
		Expect(err).NotTo(HaveOccurred())
		Expect(nm.Up(ctx)).To(Equal([]string{"1_notes"}))
		Expect(nm.Down(ctx, migrations.DownOptions{})).To(Equal("1_notes"), "an empty table may go")

		Expect(nm.Up(ctx)).To(Equal([]string{"1_notes"}))
		Expect(own.Exec(ctx, "INSERT INTO notes VALUES (1)")).To(Succeed())
		_, err = nm.Down(ctx, migrations.DownOptions{})
		Expect(err).To(MatchError(migrations.ErrDropsRows))
		Expect(err).To(MatchError(ContainSubstring("1_notes drops table notes")))
		Expect(tables(ctx)).To(ContainElement("notes"), "nothing was rolled back")
		Expect(nm.Pending(ctx)).To(BeEmpty())

		Expect(nm.Down(ctx, migrations.DownOptions{Force: true})).To(Equal("1_notes"))
		Expect(tables(ctx)).NotTo(ContainElement("notes"))
	})

	It("drops a table its down file marks derived with its rows, and still guards the others", func(ctx SpecContext) {
		state := fstest.MapFS{
			"1_state.tx.up.sql":   {Data: []byte("CREATE TABLE counter (n int); INSERT INTO counter VALUES (1); CREATE TABLE notes (id int);")},
			"1_state.tx.down.sql": {Data: []byte("-- derived table: counter\nDROP TABLE counter;\nDROP TABLE notes;")},
		}
		sm, err := db.Migrator(migrations.WithFS(state))
		Expect(err).NotTo(HaveOccurred())
		Expect(sm.Up(ctx)).To(Equal([]string{"1_state"}))
		Expect(own.Exec(ctx, "INSERT INTO notes VALUES (1)")).To(Succeed())
		_, err = sm.Down(ctx, migrations.DownOptions{})
		Expect(err).To(MatchError(ContainSubstring("1_state drops table notes")))
		Expect(own.Exec(ctx, "DELETE FROM notes")).To(Succeed())
		Expect(sm.Down(ctx, migrations.DownOptions{})).To(Equal("1_state"), "counter's row is nobody's data")
		Expect(tables(ctx)).NotTo(ContainElement("counter"))
	})

	It("reports each migration's status", func(ctx SpecContext) {
		st, err := m.Status(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(st).To(HaveLen(len(all)))
		Expect(st[0].Applied).To(BeFalse())
		var made bool
		Expect(own.QueryRow(ctx, "SELECT to_regclass('bun_migrations') IS NOT NULL").Scan(&made)).To(Succeed())
		Expect(made).To(BeFalse(), "status only reads: it creates no migration table")

		Expect(m.Up(ctx)).To(HaveLen(len(all)))
		st, err = m.Status(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(st).To(HaveEach(HaveField("Applied", BeTrue())))
		Expect(st[0].Name).To(Equal(all[0]))
		Expect(st[1].AppliedAt).To(BeTemporally("~", time.Now(), time.Minute))
	})

	It("lets several replicas migrate at once, applying each migration once", func(ctx SpecContext) {
		const replicas = 6
		var wg sync.WaitGroup
		applied := make(chan []string, replicas)
		for range replicas {
			wg.Go(func() {
				defer GinkgoRecover()
				rm, err := open(dsn).Migrator() // a process of its own: own pool
				Expect(err).NotTo(HaveOccurred())
				names, err := rm.Up(ctx)
				Expect(err).NotTo(HaveOccurred())
				applied <- names
			})
		}
		wg.Wait()
		close(applied)
		var total []string
		for names := range applied {
			total = append(total, names...)
		}
		Expect(total).To(ConsistOf(all))

		var rows int
		Expect(own.QueryRow(ctx, "SELECT count(*) FROM bun_migrations").Scan(&rows)).To(Succeed())
		Expect(rows).To(Equal(len(all)))
	})

	It("marks a failing migration unapplied and rolls back its changes", func(ctx SpecContext) {
		broken := fstest.MapFS{
			"1_good.tx.up.sql":   {Data: []byte("CREATE TABLE good (id int);")},
			"1_good.tx.down.sql": {Data: []byte("DROP TABLE good;")},
			"2_bad.tx.up.sql":    {Data: []byte("CREATE TABLE half (id int);\n--bun:split\nSELECT 1/0;")},
			"2_bad.tx.down.sql":  {Data: []byte("DROP TABLE half;")},
		}
		bm, err := db.Migrator(migrations.WithFS(broken))
		Expect(err).NotTo(HaveOccurred())
		names, err := bm.Up(ctx)
		Expect(err).To(MatchError(ContainSubstring("division by zero")))
		Expect(names).To(ContainElement("1_good"))
		Expect(tables(ctx)).To(ConsistOf("good"), "the failed migration's table is rolled back")

		st, err := bm.Status(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(st).To(HaveLen(2))
		Expect(st[0].Applied).To(BeTrue())
		Expect(st[1].Applied).To(BeFalse())
	})
})

// emptyDatabase is a spec's own empty database, with a Migrator over it:
// migrations start from nothing.
type emptyDatabase struct {
	dsn string
	db  *store.DB
	own *testdb.SQL // the spec's own statements
	m   *migrations.Migrator
}

func newEmptyDatabase(ctx SpecContext) emptyDatabase {
	GinkgoHelper()
	admin, err := testdb.AdminURL()
	Expect(err).NotTo(HaveOccurred())
	name := testdb.UniqueName("tw_migrations")
	Expect(testdb.CreateEmpty(ctx, admin, name)).To(Succeed())
	DeferCleanup(func(ctx SpecContext) { Expect(testdb.Discard(ctx, admin, name)).To(Succeed()) })
	var e emptyDatabase
	e.dsn, err = testdb.WithDatabase(admin, name)
	Expect(err).NotTo(HaveOccurred())
	e.db = open(e.dsn)
	e.own = testdb.OpenSQL(e.dsn)
	e.m, err = e.db.Migrator()
	Expect(err).NotTo(HaveOccurred())
	return e
}

// tables lists the database's tables, Bun's bookkeeping left out.
func (e emptyDatabase) tables(ctx context.Context) []string {
	var names []string
	Expect(e.own.QueryRow(ctx, `SELECT array_agg(tablename::text) FROM pg_tables
		WHERE schemaname = 'public' AND tablename NOT LIKE 'bun_%'`).Scan(&names)).To(Succeed())
	return names
}

func open(dsn string) *store.DB {
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 1})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	return db
}
