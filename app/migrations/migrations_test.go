package migrations_test

import (
	"context"
	"slices"
	"sync"
	"testing/fstest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

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
		dsn string
		db  *store.DB
		own *testdb.SQL // the spec's own statements
		m   *migrations.Migrator
	)

	// Each spec gets an empty database of its own: migrations start from nothing.
	BeforeEach(func(ctx SpecContext) {
		admin, err := testdb.AdminURL()
		Expect(err).NotTo(HaveOccurred())
		name := testdb.UniqueName("tw_migrations")
		Expect(testdb.CreateEmpty(ctx, admin, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { Expect(testdb.Discard(ctx, admin, name)).To(Succeed()) })
		dsn, err = testdb.WithDatabase(admin, name)
		Expect(err).NotTo(HaveOccurred())
		db = open(dsn)
		own = testdb.OpenSQL(dsn)
		m, err = db.Migrator()
		Expect(err).NotTo(HaveOccurred())
	})

	tables := func(ctx context.Context) []string {
		var names []string
		Expect(own.QueryRow(ctx, `SELECT array_agg(tablename::text) FROM pg_tables
			WHERE schemaname = 'public' AND tablename NOT LIKE 'bun_%'`).Scan(&names)).To(Succeed())
		return names
	}

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

	Describe("bounded by lock_timeout and statement_timeout", func() {
		first := fstest.MapFS{
			"1_create.tx.up.sql":   {Data: []byte("CREATE TABLE busy (id int);")},
			"1_create.tx.down.sql": {Data: []byte("DROP TABLE busy;")},
		}
		withAlter := fstest.MapFS{
			"1_create.tx.up.sql":   first["1_create.tx.up.sql"],
			"1_create.tx.down.sql": first["1_create.tx.down.sql"],
			"2_alter.tx.up.sql":    {Data: []byte("ALTER TABLE busy ADD COLUMN note text;")},
			"2_alter.tx.down.sql":  {Data: []byte("ALTER TABLE busy DROP COLUMN note;")},
		}

		It("fails fast when another session holds a lock it needs, naming the lock and its holder", func(ctx SpecContext) {
			fm, err := db.Migrator(migrations.WithFS(first))
			Expect(err).NotTo(HaveOccurred())
			Expect(fm.Up(ctx)).To(Equal([]string{"1_create"}))

			By("another session reading the table in an open transaction")
			reader, err := pgx.Connect(ctx, dsn)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(reader.Close)
			tx, err := reader.Begin(ctx)
			Expect(err).NotTo(HaveOccurred())
			var readerPID int
			Expect(tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&readerPID)).To(Succeed())
			_, err = tx.Exec(ctx, "SELECT count(*) FROM busy")
			Expect(err).NotTo(HaveOccurred())

			am, err := db.Migrator(migrations.WithFS(withAlter, migrations.Options{LockTimeout: 2 * time.Second}))
			Expect(err).NotTo(HaveOccurred())
			start := time.Now()
			_, err = am.Up(ctx)
			Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second), "it gave up after the lock timeout")
			Expect(err).To(MatchError(ContainSubstring("2_alter")))
			Expect(err).To(MatchError(ContainSubstring("MIGRATION_LOCK_TIMEOUT (2s)")))
			Expect(err).To(MatchError(ContainSubstring("AccessExclusiveLock on table busy")))
			Expect(err).To(MatchError(MatchRegexp(`held by pid %d \(idle in transaction: SELECT count\(\*\) FROM busy\)`, readerPID)))

			st, err := am.Status(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(st[1].Applied).To(BeFalse(), "the timed-out migration is not marked applied")

			By("the reader finishing: the migration goes through")
			Expect(tx.Commit(ctx)).To(Succeed())
			Expect(am.Up(ctx)).To(Equal([]string{"2_alter"}))
		})

		It("stops a statement that runs longer than the statement timeout", func(ctx SpecContext) {
			slow := fstest.MapFS{
				"1_slow.tx.up.sql":   {Data: []byte("SELECT pg_sleep(30);")},
				"1_slow.tx.down.sql": {Data: []byte("SELECT 1;")},
			}
			sm, err := db.Migrator(migrations.WithFS(slow, migrations.Options{StatementTimeout: 300 * time.Millisecond}))
			Expect(err).NotTo(HaveOccurred())
			start := time.Now()
			_, err = sm.Up(ctx)
			Expect(err).To(MatchError(ContainSubstring("MIGRATION_STATEMENT_TIMEOUT (300ms)")))
			Expect(err).To(MatchError(ContainSubstring("1_slow")))
			Expect(time.Since(start)).To(BeNumerically("<", 10*time.Second))
		})

		It("leaves the pool's sessions without the timeouts afterwards", func(ctx SpecContext) {
			Expect(m.Up(ctx)).To(Equal(all))
			lt, stt, err := m.Timeouts(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect([]string{lt, stt}).To(Equal([]string{"0", "0"}), "SET LOCAL ended with each migration's transaction")
		})
	})

	It("lists what is pending without the advisory lock, and goes up without waiting for it when nothing is", func(ctx SpecContext) {
		other, err := pgx.Connect(ctx, dsn)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(other.Close)

		Expect(m.Pending(ctx)).To(Equal(all), "a database never migrated lacks the table: everything is pending")
		Expect(m.Up(ctx)).To(Equal(all))
		Expect(m.Pending(ctx)).To(BeEmpty())

		_, err = other.Exec(ctx, "SELECT pg_advisory_lock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		Expect(m.Pending(short)).To(BeEmpty(), "read while another migrator holds the lock")
		Expect(m.Up(short)).To(BeEmpty(), "nothing to apply: no wait for the lock")

		By("a migration rolled back is pending again, and Up waits for the lock to apply it")
		_, err = other.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())
		rolled, err := m.Down(ctx, migrations.DownOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Pending(ctx)).To(Equal([]string{rolled}))
		_, err = other.Exec(ctx, "SELECT pg_advisory_lock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())
		shorter, cancel2 := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel2()
		_, err = m.Up(shorter)
		Expect(err).To(MatchError(ContainSubstring("advisory lock")))
	})

	It("waits for another migrator's lock, and can give up waiting", func(ctx SpecContext) {
		other, err := pgx.Connect(ctx, dsn)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(other.Close)
		_, err = other.Exec(ctx, "SELECT pg_advisory_lock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())

		// Give up only once Up is seen waiting on the lock: a fixed timeout
		// also covered connecting, which a loaded machine can outlast.
		waiting, giveUp := context.WithCancel(ctx)
		defer giveUp()
		done := make(chan error, 1)
		go func() { _, err := m.Up(waiting); done <- err }()
		Eventually(func(g Gomega) {
			var n int
			g.Expect(other.QueryRow(ctx, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").Scan(&n)).To(Succeed())
			g.Expect(n).To(Equal(1))
		}).WithContext(ctx).Should(Succeed(), "Up waits on the lock")
		giveUp()
		Eventually(done).WithContext(ctx).Should(Receive(MatchError(ContainSubstring("advisory lock"))), "it blocked on the lock, then gave up")
		Expect(tables(ctx)).To(BeEmpty(), "nothing ran without the lock")

		_, err = other.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Up(ctx)).To(Equal(all))

		var free bool
		Expect(other.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrations.LockKey).Scan(&free)).To(Succeed())
		Expect(free).To(BeTrue(), "Up released the lock when it finished")
	})
})

func open(dsn string) *store.DB {
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 4, MaxIdleConns: 1})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	return db
}
