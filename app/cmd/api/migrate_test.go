package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/migrations"
)

var _ = Describe("migrate", func() {
	var (
		dsn string
		e   env
	)

	// exists reports whether table exists in the spec's fresh database.
	exists := func(table string) bool {
		GinkgoHelper()
		var name *string
		Expect(testdb.OpenSQL(dsn).QueryRow(context.Background(), "SELECT to_regclass($1)::text", "public."+table).
			Scan(&name)).To(Succeed())
		return name != nil
	}

	// Specs that migrate get an empty database of their own; the others
	// never touch the process's one.
	BeforeEach(func() { e = env{"DATABASE_URL": tdb.DSN} })
	freshDatabase := func(ctx SpecContext) {
		GinkgoHelper()
		name := testdb.UniqueName("tw_e2e_fresh")
		Expect(testdb.CreateEmpty(ctx, tdb.AdminURL, name)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(testdb.Discard(ctx, tdb.AdminURL, name)).To(Succeed())
		})
		var err error
		dsn, err = testdb.WithDatabase(tdb.AdminURL, name)
		Expect(err).NotTo(HaveOccurred())
		e["DATABASE_URL"] = dsn
	}

	It("applies, reports, rolls back and reapplies the schema on an empty database", func(ctx SpecContext) {
		freshDatabase(ctx)
		// Every embedded migration, so a new one needs no edit here.
		all, err := migrations.Names()
		Expect(err).NotTo(HaveOccurred())
		Expect(all).NotTo(BeEmpty())
		newestFirst := slices.Clone(all)
		slices.Reverse(newestFirst)
		report := func(verb string, names []string) string {
			var b strings.Builder
			for _, n := range names {
				b.WriteString(verb + " " + n + "\n")
			}
			return b.String()
		}
		Expect(exists("users")).To(BeFalse())

		By("status before anything: every migration pending")
		out, err := runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(MatchRegexp(`(?m)^MIGRATION\s+STATUS\s+GROUP\s+APPLIED AT$`))
		for _, name := range all {
			Expect(out).To(MatchRegexp(`(?m)^%s\s+pending\s+-\s+-$`, name))
		}

		By("up")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("applied", all)))
		Expect(exists("users")).To(BeTrue())
		Expect(exists("tweets")).To(BeTrue())

		By("status after up: applied, group 1, with a time")
		out, err = runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range all {
			m := regexp.MustCompile(`(?m)^` + name + `\s+applied\s+1\s+(\S+)$`).FindStringSubmatch(out)
			Expect(m).To(HaveLen(2), "status output:\n%s", out)
			_, err := time.Parse(time.RFC3339, m[1])
			Expect(err).NotTo(HaveOccurred())
		}

		By("up again: nothing to do")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("nothing applied\n"))

		By("down: one migration at a time, newest first, the last even after a first deploy")
		for _, name := range newestFirst {
			out, err = runNow(e, "migrate", "down")
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(Equal(report("rolled back", []string{name})))
		}
		Expect(exists("users")).To(BeFalse())
		Expect(exists("tweets")).To(BeFalse())

		out, err = runNow(e, "migrate", "status")
		Expect(err).NotTo(HaveOccurred())
		for _, name := range all {
			Expect(out).To(MatchRegexp(`(?m)^%s\s+pending`, name))
		}

		out, err = runNow(e, "migrate", "down")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal("nothing rolled back\n"))

		By("up once more, and the service works on the result")
		out, err = runNow(e, "migrate", "up")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("applied", all)))
		s := startServer(env{"DATABASE_URL": dsn})
		r := do(client, http.MethodPost, s.base+"/tweets", `{"text":"on a fresh schema"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		s.stop()

		By("down takes --force and nothing else")
		_, err = runNow(e, "migrate", "down", "now")
		Expect(err).To(MatchError(ContainSubstring("want nothing or --force")))
		out, err = runNow(e, "migrate", "down", "--force")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(report("rolled back", newestFirst[:1])))
	})

	It("works with a pool of one connection, though the lock holds one", func(ctx SpecContext) {
		freshDatabase(ctx)
		e["DB_MAX_OPEN_CONNS"], e["DB_MAX_IDLE_CONNS"] = "1", "1"
		done := make(chan error, 1)
		go func() { _, err := runNow(e, "migrate", "up"); done <- err }()
		Eventually(done).WithContext(ctx).WithTimeout(20 * time.Second).Should(Receive(BeNil()))
		Expect(exists("tweets")).To(BeTrue())
	})

	It("fails with an error when the database cannot be reached", func() {
		_, err := runNow(env{"DATABASE_URL": fmt.Sprintf("postgres://postgres:pw@127.0.0.1:%d/nowhere?sslmode=disable&connect_timeout=2", freePort())},
			"migrate", "up")
		Expect(err).To(MatchError(ContainSubstring("migrate up")))
	})

	It("errors without a subcommand", func() {
		_, err := runNow(e, "migrate")
		Expect(err).To(MatchError(ContainSubstring("missing subcommand")))
	})

	It("errors on an unknown subcommand, naming it, and changes nothing", func(ctx SpecContext) {
		freshDatabase(ctx)
		_, err := runNow(e, "migrate", "sideways")
		Expect(err).To(MatchError(ContainSubstring(`unknown subcommand "sideways"`)))
		Expect(exists("users")).To(BeFalse())
	})

	It("names an unknown subcommand even when DATABASE_URL is not set", func() {
		_, err := runNow(env{}, "migrate", "sideways")
		Expect(err).To(MatchError(ContainSubstring(`unknown subcommand "sideways"`)))
		Expect(err.Error()).NotTo(ContainSubstring("DATABASE_URL"))
	})

	Describe("create", func() {
		var dir string

		BeforeEach(func() {
			dir = GinkgoT().TempDir()
			e["MIGRATIONS_DIR"] = dir
		})

		It("writes an up and a down file named after the migration", func() {
			out, err := runNow(e, "migrate", "create", "add_likes")
			Expect(err).NotTo(HaveOccurred())
			entries, err := os.ReadDir(dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(2))
			var names []string
			for _, en := range entries {
				names = append(names, en.Name())
			}
			Expect(names[0]).To(MatchRegexp(`^\d{14}_add_likes\.tx\.down\.sql$`))
			Expect(names[1]).To(MatchRegexp(`^\d{14}_add_likes\.tx\.up\.sql$`))
			Expect(strings.TrimSuffix(names[0], ".tx.down.sql")).To(Equal(strings.TrimSuffix(names[1], ".tx.up.sql")))
			Expect(out).To(Equal(fmt.Sprintf("created %s\ncreated %s\n",
				filepath.Join(dir, names[1]), filepath.Join(dir, names[0]))))
			for _, n := range names {
				b, err := os.ReadFile(filepath.Join(dir, n))
				Expect(err).NotTo(HaveOccurred())
				Expect(string(b)).To(HavePrefix("-- add_likes: "))
			}
		})

		It("needs no database", func() {
			delete(e, "DATABASE_URL")
			_, err := runNow(e, "migrate", "create", "offline")
			Expect(err).NotTo(HaveOccurred())
			entries, err := os.ReadDir(dir)
			Expect(err).NotTo(HaveOccurred())
			Expect(entries).To(HaveLen(2))
		})

		DescribeTable("rejects a bad name, writing nothing",
			func(args ...string) {
				_, err := runNow(e, append([]string{"migrate", "create"}, args...)...)
				Expect(err).To(HaveOccurred())
				entries, err := os.ReadDir(dir)
				Expect(err).NotTo(HaveOccurred())
				Expect(entries).To(BeEmpty())
			},
			Entry("upper case", "AddLikes"),
			Entry("a hyphen", "add-likes"),
			Entry("a space", "add likes"),
			Entry("a path", "../escape"),
			Entry("a slash", "a/b"),
			Entry("empty", ""),
			Entry("missing"),
			Entry("two names", "one", "two"),
		)

		It("fails when the directory does not exist", func() {
			e["MIGRATIONS_DIR"] = filepath.Join(dir, "missing")
			_, err := runNow(e, "migrate", "create", "add_likes")
			Expect(err).To(MatchError(ContainSubstring("create migration")))
		})
	})
})
