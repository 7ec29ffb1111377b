package migrations_test

import (
	"context"
	"testing/fstest"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/jackc/pgx/v5"

	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/store"
)

// The Migrator beside other sessions' locks: its timeouts, and the advisory lock.
var _ = Describe("Migrator", func() {
	var (
		dsn    string
		db     *store.DB
		m      *migrations.Migrator
		tables func(context.Context) []string
	)
	BeforeEach(func(ctx SpecContext) {
		e := newEmptyDatabase(ctx)
		dsn, db, m, tables = e.dsn, e.db, e.m, e.tables
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
		// Bounded, and stopped once Up returns: with a context and no
		// timeout, Eventually would poll until the suite's timeout.
		Eventually(func(g Gomega) {
			select {
			case err := <-done:
				StopTrying("Up returned without waiting on the lock").Wrap(err).Now()
			default:
			}
			var n int // in this spec's database: other processes' specs take advisory locks too
			g.Expect(other.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
				AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&n)).To(Succeed())
			g.Expect(n).To(Equal(1))
		}).WithContext(ctx).WithTimeout(30*time.Second).Should(Succeed(), "Up waits on the lock")
		giveUp()
		Eventually(done).WithContext(ctx).WithTimeout(30*time.Second).
			Should(Receive(MatchError(ContainSubstring("advisory lock"))), "it blocked on the lock, then gave up")
		Expect(tables(ctx)).To(BeEmpty(), "nothing ran without the lock")

		_, err = other.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrations.LockKey)
		Expect(err).NotTo(HaveOccurred())
		Expect(m.Up(ctx)).To(Equal(all))

		var free bool
		Expect(other.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", migrations.LockKey).Scan(&free)).To(Succeed())
		Expect(free).To(BeTrue(), "Up released the lock when it finished")
	})
})
