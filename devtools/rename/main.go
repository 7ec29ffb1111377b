// Command rename gives the tree a Go module path and a project name of its
// own: the first step of starting a service from it. make rename runs it
// (through devtools/rename.sh, which first checks with git that the tree is
// clean) in the dev image, with the tracked files on stdin:
//
//	git ls-files -z | go run . -root ../.. -module example.com/acme/notes -name notes
//
// The current module path is the root go.mod's; the current name is the
// compose project name in compose.dev.yml. In every listed text file and
// path, each spelling of either (see spell.go) is replaced where it stands
// as a whole word: rules, not a list of files, so files added later are
// renamed too. Go files are gofmt'ed again and every go.mod's new module
// path is checked; nothing is written unless every file could be planned.
// Run again with the same module and name, it changes nothing.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/modfile"
)

// nameFile holds the project's current name as its compose project name.
const nameFile = "compose.dev.yml"

var composeName = regexp.MustCompile(`(?m)^name:[ \t]*([^\s#]+)[ \t]*(?:#.*)?$`)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rename:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	flags := flag.NewFlagSet("rename", flag.ContinueOnError)
	root := flags.String("root", ".", "the tree to rename")
	newModule := flags.String("module", "", "the new Go module path, e.g. example.com/acme/notes")
	newName := flags.String("name", "", "the new project name, e.g. notes")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if err := CheckModule(*newModule); err != nil {
		return err
	}
	if err := CheckName(*newName); err != nil {
		return err
	}
	oldModule, oldName, err := Current(*root)
	if err != nil {
		return err
	}
	if oldModule == *newModule && oldName == *newName {
		fmt.Fprintf(stdout, "rename: already named %s (module %s); nothing to do\n", oldName, oldModule)
		return nil
	}
	files, err := readList(stdin)
	if err != nil {
		return err
	}
	rules := Rules(oldModule, *newModule, oldName, *newName)
	changes, err := Plan(*root, files, rules)
	if err != nil {
		return err
	}
	if err := Apply(*root, changes); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "rename: module %s -> %s, name %s -> %s\n", oldModule, *newModule, oldName, *newName)
	moved := 0
	for _, c := range changes {
		if c.to != c.from {
			fmt.Fprintf(stdout, "  moved %s -> %s\n", c.from, c.to)
			moved++
		}
	}
	fmt.Fprintf(stdout, "rename: rewrote %d of %d files, moved %d\n", len(changes), len(files), moved)
	old := OldPattern(oldModule, *newModule, oldName, *newName)
	left := Leftovers(*root, files, changes, old, *newModule)
	if env, err := os.ReadFile(filepath.Join(*root, ".env")); err == nil && old != nil &&
		old.MatchString(strings.ReplaceAll(string(env), *newModule, "")) {
		left = append(left, ".env: not tracked, so not renamed: edit it yourself")
	}
	if len(left) > 0 {
		fmt.Fprintf(stdout, "rename: these still mention %s or %s in another spelling:\n", oldName, oldModule)
		for _, l := range left {
			fmt.Fprintln(stdout, "  "+l)
		}
	}
	return nil
}

// Current reads the tree's module path and project name.
func Current(root string) (module, name string, err error) {
	mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", "", err
	}
	if module = modfile.ModulePath(mod); module == "" {
		return "", "", errors.New("go.mod has no module line")
	}
	compose, err := os.ReadFile(filepath.Join(root, nameFile))
	if err != nil {
		return "", "", err
	}
	m := composeName.FindSubmatch(compose)
	if m == nil {
		return "", "", fmt.Errorf("%s has no top-level name: the project's name is read from it", nameFile)
	}
	name = strings.Trim(string(m[1]), `"'`)
	if err := CheckName(name); err != nil {
		return "", "", fmt.Errorf("%s: %w", nameFile, err)
	}
	return module, name, nil
}

// readList reads paths separated by NUL (git ls-files -z) or newlines.
func readList(r io.Reader) ([]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	sep := "\n"
	if bytes.IndexByte(data, 0) >= 0 {
		sep = "\x00"
	}
	var files []string
	for _, f := range strings.Split(string(data), sep) {
		if f != "" {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, errors.New("no files on stdin (pipe git ls-files -z into it)")
	}
	return files, nil
}

// A change rewrites the file from, perhaps moving it to to.
type change struct {
	from, to string
	text     []byte
	mode     fs.FileMode
}

// Plan works out every file's new text and path, and refuses the rename if
// any cannot be written: a Go file that no longer formats, an invalid
// module path in a go.mod, a path that is taken.
func Plan(root string, files []string, rules []rule) ([]change, error) {
	var changes []change
	taken := map[string]string{}
	for _, f := range files {
		info, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		// Symbolic links and submodules are left as they are.
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
		if err != nil {
			return nil, err
		}
		text := data
		if !binary(data) {
			text = []byte(Replace(string(data), rules))
		}
		to := Replace(f, rules)
		if bytes.Equal(text, data) && to == f {
			continue
		}
		if strings.HasSuffix(to, ".go") && !bytes.Equal(text, data) {
			if text, err = format.Source(text); err != nil {
				return nil, fmt.Errorf("%s after renaming: %w", f, err)
			}
		}
		if path.Base(to) == "go.mod" {
			if err := CheckModule(modfile.ModulePath(text)); err != nil {
				return nil, fmt.Errorf("%s: %w", to, err)
			}
		}
		if to != f {
			if other, ok := taken[to]; ok {
				return nil, fmt.Errorf("%s and %s would both become %s", other, f, to)
			}
			if _, err := os.Lstat(filepath.Join(root, filepath.FromSlash(to))); err == nil {
				return nil, fmt.Errorf("%s would become %s, which exists", f, to)
			}
			taken[to] = f
		}
		changes = append(changes, change{from: f, to: to, text: text, mode: info.Mode().Perm()})
	}
	return changes, nil
}

// binary is git's test: a NUL in the first 8000 bytes.
func binary(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), 8000)], 0) >= 0
}

// Apply writes the planned changes.
func Apply(root string, changes []change) error {
	for _, c := range changes {
		from := filepath.Join(root, filepath.FromSlash(c.from))
		to := filepath.Join(root, filepath.FromSlash(c.to))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(to, c.text, c.mode); err != nil {
			return err
		}
		if err := os.Chmod(to, c.mode); err != nil {
			return err
		}
		if to == from {
			continue
		}
		if err := os.Remove(from); err != nil {
			return err
		}
		// Directories the move emptied go too, as git would have them.
		for dir := filepath.Dir(from); dir != filepath.Clean(root); dir = filepath.Dir(dir) {
			if os.Remove(dir) != nil {
				break
			}
		}
	}
	return nil
}

// Leftovers lists the lines that still mention the old module path or
// name in a spelling no rule covers (Shop-Api for a shop-api, say),
// ignoring case and separators. The CI check fails on such lines, so a new
// spelling gets a rule in spell.go.
func Leftovers(root string, files []string, changes []change, old *regexp.Regexp, newModule string) []string {
	if old == nil {
		return nil
	}
	planned := map[string]change{}
	for _, c := range changes {
		planned[c.from] = c
	}
	var out []string
	for _, f := range files {
		c, ok := planned[f]
		if !ok {
			data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f)))
			if err != nil {
				continue
			}
			c = change{to: f, text: data}
		}
		if binary(c.text) {
			continue
		}
		for n, line := range strings.Split(string(c.text), "\n") {
			// The new module path may hold the old name on purpose.
			if old.MatchString(strings.ReplaceAll(line, newModule, "")) {
				out = append(out, fmt.Sprintf("%s:%d: %s", c.to, n+1, strings.TrimSpace(line)))
			}
		}
	}
	return out
}

// OldPattern matches the old module path, or the old name in any case
// with or without its separators (shop-api, Shop_API, SHOPAPI for a
// shop-api); a part that did not change, or that the new one contains, is
// left out. It is nil when nothing is left to look for.
func OldPattern(oldModule, newModule, oldName, newName string) *regexp.Regexp {
	var alts []string
	if mod := regexp.MustCompile(regexp.QuoteMeta(oldModule)); oldModule != newModule && !mod.MatchString(newModule) {
		alts = append(alts, mod.String())
	}
	words := strings.Split(oldName, "-")
	for i, w := range words {
		words[i] = regexp.QuoteMeta(w)
	}
	name := regexp.MustCompile(`(?i:` + strings.Join(words, `[-_]?`) + `)`)
	if oldName != newName && !name.MatchString(newName) {
		alts = append(alts, name.String())
	}
	if len(alts) == 0 {
		return nil
	}
	return regexp.MustCompile(strings.Join(alts, "|"))
}
