// Overlaid into app/store by make floor-check (proving/proving.mk), so the
// product carries no check of the benchmark's copy of its SQL.
package store

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
)

// statements are the store's statements the floor copies, by the names the
// floor gives its copies.
var statements = map[string]string{
	"getTweetSQL":          getTweetSQL,
	"listTweetsAfterIDSQL": listTweetsAfterIDSQL,
	"updateTweetSQL":       updateTweetSQL,
	"tweetOwnerSQL":        tweetOwnerSQL,
	"authenticateSQL":      authenticateSQL,
}

// TestFloorCopies keeps the statements the benchmark's floor copies the
// same text as the store's. A plain test, not a spec of the suite: it needs
// no database.
func TestFloorCopies(t *testing.T) {
	g := NewWithT(t)
	file := filepath.Join("..", "..", "proving", "floor", "sql.go")
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
	g.Expect(copies).To(HaveLen(len(statements)), "the floor copies exactly the statements statements names")
	if !maps.Equal(copies, statements) {
		fixed := filepath.Join("..", "..", "tmp", "floor-sql.go")
		g.Expect(os.MkdirAll(filepath.Dir(fixed), 0o755)).To(Succeed())
		g.Expect(os.WriteFile(fixed, withStatements(g, fset, f, file), 0o644)).To(Succeed())
		t.Fatal("proving/floor/sql.go differs from the store's statements; tmp/floor-sql.go is it with the store's: " +
			"cp tmp/floor-sql.go proving/floor/sql.go")
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
			src = slices.Concat(src[:start], []byte("`"+statements[v.Names[i].Name]+"`"), src[end:])
		}
	}
	out, err := format.Source(src)
	g.Expect(err).NotTo(HaveOccurred())
	return out
}
