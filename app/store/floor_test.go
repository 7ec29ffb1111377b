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

	"testing"

	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
)

// TestFloorCopies keeps the statements the benchmark's floor (devtools, a
// module of its own) copies the same text as the store's. A plain test,
// not a spec of the suite, so that make check runs it without a database:
// go test -run '^TestFloorCopies$' ./app/store.
func TestFloorCopies(t *testing.T) {
	g := NewWithT(t)
	file := filepath.Join("..", "..", "devtools", "floor", "sql.go")
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, 0)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Imports).To(BeEmpty(), "%s is type-checked alone", file)
	pkg, err := new(types.Config).Check("floor", fset, []*ast.File{f}, nil)
	g.Expect(err).NotTo(HaveOccurred())

	copies := map[string]string{}
	for _, name := range pkg.Scope().Names() {
		if c, ok := pkg.Scope().Lookup(name).(*types.Const); ok && c.Val().Kind() == constant.String {
			copies[name] = constant.StringVal(c.Val())
		}
	}
	g.Expect(copies).To(HaveLen(len(store.Statements)), "the floor copies exactly the statements store.Statements names")
	if !maps.Equal(copies, store.Statements) {
		fixed := filepath.Join("..", "..", "tmp", "floor-sql.go")
		g.Expect(os.MkdirAll(filepath.Dir(fixed), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(fixed, withStatements(g, fset, f, file), 0o644)).To(Succeed())
		t.Fatal("devtools/floor/sql.go differs from the store's statements; tmp/floor-sql.go is it with the store's: " +
			"cp tmp/floor-sql.go devtools/floor/sql.go")
	}
}

// withStatements is the floor's file, parsed as f, with the value of each
// constant replaced by the store's statement of its name, gofmt'd.
func withStatements(g Gomega, fset *token.FileSet, f *ast.File, file string) []byte {
	src, err := os.ReadFile(file)
	g.Expect(err).NotTo(HaveOccurred())
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
	g.Expect(err).NotTo(HaveOccurred())
	return out
}
