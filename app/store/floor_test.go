package store_test

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
)

// The benchmark's floor (devtools, a module of its own) runs copies of the
// store's statements; this is what keeps them the same text.
var _ = Describe("the statements devtools/floor copies", func() {
	It("are the store's, text for text", func() {
		file := filepath.Join("..", "..", "devtools", "floor", "sql.go")
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, file, nil, 0)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Imports).To(BeEmpty(), "%s is type-checked alone", file)
		pkg, err := new(types.Config).Check("floor", fset, []*ast.File{f}, nil)
		Expect(err).NotTo(HaveOccurred())

		copies := map[string]string{}
		for _, name := range pkg.Scope().Names() {
			if c, ok := pkg.Scope().Lookup(name).(*types.Const); ok && c.Val().Kind() == constant.String {
				copies[name] = constant.StringVal(c.Val())
			}
		}
		Expect(copies).To(HaveLen(len(store.Statements)), "the floor copies exactly the statements store.Statements names")
		for name, text := range store.Statements {
			Expect(copies).To(HaveKeyWithValue(name, text), "%s in %s differs from the store's", name, file)
		}
	})
})
