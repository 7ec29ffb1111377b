package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The specs rename a made-up project, so renaming this tree leaves them as
// they are.
const (
	fromModule = "example.org/shop/shop-api"
	fromName   = "shop-api"
)

var _ = Describe("CheckName", func() {
	DescribeTable("accepts a DNS label that starts with a letter",
		func(name string) { Expect(CheckName(name)).To(Succeed()) },
		Entry(nil, "notes"), Entry(nil, "acme-notes"), Entry(nil, "a"), Entry(nil, "n1"),
		Entry(nil, strings.Repeat("a", 40)),
	)
	DescribeTable("refuses anything else, saying why",
		func(name, why string) { Expect(CheckName(name)).To(MatchError(ContainSubstring(why))) },
		Entry(nil, "", "empty"),
		Entry(nil, "Notes", "not a DNS label"),
		Entry(nil, "1notes", "not a DNS label"),
		Entry(nil, "notes-", "not a DNS label"),
		Entry(nil, "-notes", "not a DNS label"),
		Entry(nil, "my_notes", "not a DNS label"),
		Entry(nil, "my.notes", "not a DNS label"),
		Entry(nil, "notes/x", "not a DNS label"),
		Entry(nil, strings.Repeat("a", 41), "longer than 40"),
		Entry(nil, "yes", "YAML"),
		Entry(nil, "off", "YAML"),
		Entry(nil, "null", "YAML"),
	)
})

var _ = Describe("CheckModule", func() {
	DescribeTable("accepts a module path",
		func(path string) { Expect(CheckModule(path)).To(Succeed()) },
		Entry(nil, "example.com/acme/notes"), Entry(nil, "github.com/acme/notes/v2"), Entry(nil, "git.example.org/notes"),
	)
	DescribeTable("refuses what go.mod would",
		func(path string) { Expect(CheckModule(path)).To(MatchError(HavePrefix("module path: "))) },
		Entry(nil, ""), Entry(nil, "notes"), Entry(nil, "example.com/acme notes"),
		Entry(nil, "example.com/acme/notes/"), Entry(nil, "/example.com/notes"), Entry(nil, "example.com/../notes"),
		Entry(nil, "-example.com/notes"),
	)
})

var _ = Describe("Replace", func() {
	rules := Rules(fromModule, "example.com/acme/notes", fromName, "notes")

	DescribeTable("rewrites each spelling where it is a whole word",
		func(in, out string) { Expect(Replace(in, rules)).To(Equal(out)) },
		Entry("imports", `import "example.org/shop/shop-api/app/store"`, `import "example.com/acme/notes/app/store"`),
		Entry("go.mod", "module example.org/shop/shop-api/deploy/check\n", "module example.com/acme/notes/deploy/check\n"),
		Entry("a package pattern", `-gcflags='example.org/shop/shop-api/...=-l'`, `-gcflags='example.com/acme/notes/...=-l'`),
		Entry("after a shell escape", `$'^\tpath\texample.org/shop/shop-api/app$'`, `$'^\tpath\texample.com/acme/notes/app$'`),
		Entry("a default in a suffix", `"${PROJECT:-shop-api}-test"`, `"${PROJECT:-notes}-test"`),
		Entry("a label key", "dev.shop-api.inputs: x", "dev.notes.inputs: x"),
		Entry("a file name", "docs/postman/shop-api.postman_collection.json", "docs/postman/notes.postman_collection.json"),
		Entry("an image", "registry.example.com/shop-api:v1", "registry.example.com/notes:v1"),
		Entry("an environment variable", "SHOP_API_TEST_EXEC", "NOTES_TEST_EXEC"),
		Entry("snake case", "shop_api_test", "notes_test"),
		Entry("joined", "package shopapi", "package notes"),
		Entry("Go exported", "type ShopAPI struct{}; newShopAPIClient()", "type Notes struct{}; newNotesClient()"),
		Entry("Go unexported", "var shopAPI = 1", "var notes = 1"),
		Entry("Pascal", "ShopApi", "Notes"),
		Entry("many on a line", "shop-api shop-api,shop-api", "notes notes,notes"),
		Entry("the name, not the module, on another host", "api.example.org/shop/shop-api", "api.example.org/shop/notes"),
	)
	DescribeTable("leaves other words alone",
		func(in string) { Expect(Replace(in, rules)).To(Equal(in)) },
		Entry("the domain", "shop.Order and app/shop"),
		Entry("a longer word", "myshop-api shop-apis shop-api2 ShopAPIs"),
		Entry("prose", "A shop-like API."),
	)

	It("writes the new name once when it contains the old one", func() {
		r := Rules(fromModule, fromModule+"/v2", fromName, fromName+"-v2")
		Expect(Replace("example.org/shop/shop-api/app shop-api ShopAPI", r)).
			To(Equal("example.org/shop/shop-api/v2/app shop-api-v2 ShopAPIV2"))
	})

	It("spells a new name the Go way in identifiers", func() {
		r := Rules(fromModule, fromModule, fromName, "billing-api")
		Expect(Replace("shop-api SHOP_API ShopAPI shopAPI shop_api", r)).
			To(Equal("billing-api BILLING_API BillingAPI billingAPI billing_api"))
	})

	It("keeps the module path whole when only the name changes", func() {
		r := Rules(fromModule, fromModule, fromName, "notes")
		Expect(Replace(`import "example.org/shop/shop-api/app" // shop-api`, r)).
			To(Equal(`import "example.org/shop/shop-api/app" // notes`))
		Expect(Rules(fromModule, "example.com/x", fromName, fromName)).To(HaveLen(1))
	})
})

var _ = Describe("the rename of a tree", func() {
	var root string
	tracked := map[string]string{
		"go.mod":          "module " + fromModule + "\n\ngo 1.27\n",
		"compose.dev.yml": "name: shop-api\n\nservices:\n  api:\n    image: ${DEV_IMAGE:-shop-api-dev}\n",
		"app/store/store.go": `package store

import _ "` + fromModule + `/app/shop"

var v = struct{ A, LongName string }{
	A:        "shop-api", // the name
	LongName: "x",        // aligned with it
}
`,
		"app/shop/shop.go":                              "// Package shop is the domain.\npackage shop\n",
		"tools/check/go.mod":                            "module " + fromModule + "/tools/check\n\ngo 1.27\n",
		"docs/postman/shop-api.postman_collection.json": `{"info": {"name": "shop-api"}}` + "\n",
		"bin/run.sh":                                    "#!/bin/sh\nexec shop-api \"$@\"\n",
		"docs/logo.png":                                 "\x89PNG\x00shop-api",
		"docs/shop-api/index.md":                        "# shop-api\n\nA Shop-API mention no rule covers.\n",
	}
	files := func() string {
		var b strings.Builder
		for f := range tracked {
			b.WriteString(f + "\x00")
		}
		return b.String()
	}

	BeforeEach(func() {
		root = GinkgoT().TempDir()
		for f, text := range tracked {
			Expect(os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(root, f), []byte(text), 0o644)).To(Succeed())
		}
		Expect(os.Chmod(filepath.Join(root, "bin/run.sh"), 0o755)).To(Succeed())
		// Not tracked: never written, but reported.
		Expect(os.WriteFile(filepath.Join(root, ".env"), []byte("DEV_IMAGE=shop-api-dev\n"), 0o600)).To(Succeed())
	})

	snapshot := func() map[string]string {
		tree := map[string]string{}
		Expect(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			Expect(err).NotTo(HaveOccurred())
			rel, _ := filepath.Rel(root, p)
			if d.IsDir() {
				tree[rel+"/"] = ""
				return nil
			}
			data, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			info, _ := d.Info()
			tree[rel] = info.Mode().String() + " " + string(data)
			return nil
		})).To(Succeed())
		return tree
	}
	rename := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append([]string{"-root", root}, args...), strings.NewReader(files()), &out)
		return out.String(), err
	}
	read := func(f string) string {
		data, err := os.ReadFile(filepath.Join(root, f))
		Expect(err).NotTo(HaveOccurred())
		return string(data)
	}

	It("rewrites contents and paths, formats Go, keeps modes and binaries", func() {
		out, err := rename("-module", "example.com/acme/notes", "-name", "notes-service")
		Expect(err).NotTo(HaveOccurred())
		Expect(read("go.mod")).To(HavePrefix("module example.com/acme/notes\n"))
		Expect(read("tools/check/go.mod")).To(HavePrefix("module example.com/acme/notes/tools/check\n"))
		Expect(read("compose.dev.yml")).To(Equal("name: notes-service\n\nservices:\n  api:\n    image: ${DEV_IMAGE:-notes-service-dev}\n"))
		Expect(read("app/store/store.go")).To(Equal(`package store

import _ "example.com/acme/notes/app/shop"

var v = struct{ A, LongName string }{
	A:        "notes-service", // the name
	LongName: "x",             // aligned with it
}
`))
		Expect(read("app/shop/shop.go")).To(Equal(tracked["app/shop/shop.go"]))
		Expect(read("docs/postman/notes-service.postman_collection.json")).To(Equal(`{"info": {"name": "notes-service"}}` + "\n"))
		Expect(filepath.Join(root, "docs/postman/shop-api.postman_collection.json")).NotTo(BeAnExistingFile())
		Expect(read("docs/notes-service/index.md")).To(HavePrefix("# notes-service\n"))
		Expect(filepath.Join(root, "docs/shop-api")).NotTo(BeADirectory())
		info, err := os.Stat(filepath.Join(root, "bin/run.sh"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm()).To(Equal(fs.FileMode(0o755)))
		Expect(read("docs/logo.png")).To(Equal(tracked["docs/logo.png"]))
		Expect(read(".env")).To(Equal("DEV_IMAGE=shop-api-dev\n"))

		Expect(out).To(ContainSubstring("name shop-api -> notes-service"))
		Expect(out).To(ContainSubstring("moved docs/shop-api/index.md -> docs/notes-service/index.md"))
		Expect(out).To(ContainSubstring("rewrote 7 of 9 files, moved 2"))
		Expect(out).To(ContainSubstring("docs/notes-service/index.md:3: A Shop-API mention no rule covers."))
		Expect(out).To(ContainSubstring(".env: not tracked"))
	})

	It("changes nothing when run again with the same module and name", func() {
		_, err := rename("-module", "example.com/acme/notes", "-name", "notes")
		Expect(err).NotTo(HaveOccurred())
		before := snapshot()
		out, err := rename("-module", "example.com/acme/notes", "-name", "notes")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(ContainSubstring("already named notes (module example.com/acme/notes); nothing to do"))
		Expect(snapshot()).To(Equal(before))
	})

	It("renames only the name when the module stays", func() {
		out, err := rename("-module", fromModule, "-name", "notes")
		Expect(err).NotTo(HaveOccurred())
		Expect(read("go.mod")).To(Equal(tracked["go.mod"]))
		Expect(read("compose.dev.yml")).To(HavePrefix("name: notes\n"))
		Expect(read("app/store/store.go")).To(ContainSubstring(`import _ "` + fromModule + `/app/shop"`))
		Expect(out).NotTo(ContainSubstring("store.go"))
	})

	DescribeTable("refuses, writing nothing",
		func(why string, args ...string) {
			before := snapshot()
			_, err := rename(args...)
			Expect(err).To(MatchError(ContainSubstring(why)))
			Expect(snapshot()).To(Equal(before))
		},
		Entry("an invalid name", "not a DNS label", "-module", "example.com/acme/notes", "-name", "Notes"),
		Entry("no name", "empty", "-module", "example.com/acme/notes"),
		Entry("an invalid module", "module path", "-module", "notes", "-name", "notes"),
		Entry("no module", "module path", "-name", "notes"),
	)

	It("refuses a move onto a file that exists, writing nothing", func() {
		taken := filepath.Join(root, "docs/postman/notes.postman_collection.json")
		Expect(os.WriteFile(taken, []byte("{}"), 0o644)).To(Succeed())
		before := snapshot()
		_, err := rename("-module", "example.com/acme/notes", "-name", "notes")
		Expect(err).To(MatchError(ContainSubstring("which exists")))
		Expect(snapshot()).To(Equal(before))
	})

	It("refuses a tree whose name it cannot find", func() {
		Expect(os.WriteFile(filepath.Join(root, "compose.dev.yml"), []byte("services: {}\n"), 0o644)).To(Succeed())
		_, err := rename("-module", "example.com/acme/notes", "-name", "notes")
		Expect(err).To(MatchError(ContainSubstring("compose.dev.yml has no top-level name")))
	})
})
