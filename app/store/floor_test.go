package store_test

import (
	"go/ast"
	"go/constant"
	"go/format"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"

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
		if !maps.Equal(copies, store.Statements) {
			fixed := filepath.Join("..", "..", "tmp", "floor-sql.go")
			Expect(os.MkdirAll(filepath.Dir(fixed), 0o755)).To(Succeed())
			Expect(os.WriteFile(fixed, withStatements(fset, f, file), 0o644)).To(Succeed())
			Fail("devtools/floor/sql.go differs from the store's statements; tmp/floor-sql.go is it with the store's: " +
				"cp tmp/floor-sql.go devtools/floor/sql.go")
		}
	})
})

// withStatements is the floor's file, parsed as f, with the value of each
// constant replaced by the store's statement of its name, gofmt'd.
func withStatements(fset *token.FileSet, f *ast.File, file string) []byte {
	GinkgoHelper()
	src, err := os.ReadFile(file)
	Expect(err).NotTo(HaveOccurred())
	var values []*ast.ValueSpec
	ast.Inspect(f, func(n ast.Node) bool {
		if v, ok := n.(*ast.ValueSpec); ok {
			values = append(values, v)
		}
		return true
	})
	for _, v := range slices.Backward(values) { // from the end: earlier offsets stay valid
		for i := len(v.Names) - 1; i >= 0; i-- {
			start, end := fset.Position(v.Values[i].Pos()).Offset, fset.Position(v.Values[i].End()).Offset
			src = slices.Concat(src[:start], []byte("`"+store.Statements[v.Names[i].Name]+"`"), src[end:])
		}
	}
	out, err := format.Source(src)
	Expect(err).NotTo(HaveOccurred())
	return out
}
