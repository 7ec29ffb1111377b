package migrations_test

import (
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/migrations"
)

var _ = Describe("Create", func() {
	It("writes an empty transactional up/down pair", func() {
		dir := GinkgoT().TempDir()
		at := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
		paths, err := migrations.Create(dir, "add_likes", at)
		Expect(err).NotTo(HaveOccurred())
		Expect(paths).To(Equal([]string{
			filepath.Join(dir, "20270102030405_add_likes.tx.up.sql"),
			filepath.Join(dir, "20270102030405_add_likes.tx.down.sql"),
		}))
		for _, p := range paths {
			Expect(os.ReadFile(p)).To(ContainSubstring("add_likes"))
		}
		_, err = migrations.Create(dir, "add_likes", at)
		Expect(err).To(MatchError(ContainSubstring("exists")), "never overwrites a migration")
	})

	DescribeTable("refuses names that would make odd file names",
		func(name string) {
			_, err := migrations.Create(GinkgoT().TempDir(), name, time.Now())
			Expect(err).To(MatchError(ContainSubstring("lower-case")))
		},
		Entry("empty", ""),
		Entry("spaces", "add likes"),
		Entry("a path", "../evil"),
		Entry("upper case", "AddLikes"),
	)
})
