package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// maxName leaves room for the suffixes the tree appends to the name
// (-migrate, -debugtest, -replicas-load, -gocache-<uid>) within the 63
// characters of a Kubernetes name or label value.
const maxName = 40

// dns1035 is a Kubernetes Service name: a DNS label that starts with a
// letter. It is also a valid compose project, image and npm package name.
var dns1035 = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// yaml11 are the plain YAML 1.1 scalars that are not strings: the name is
// written unquoted in compose files, manifests and swagger.yaml.
var yaml11 = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true,
	"true": true, "false": true, "null": true,
}

// CheckName reports why name cannot name the project, or nil.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("the name is empty")
	case len(name) > maxName:
		return fmt.Errorf("name %q is longer than %d characters", name, maxName)
	case !dns1035.MatchString(name):
		return fmt.Errorf("name %q is not a DNS label (lowercase letters, digits and '-', starting with a letter, not ending with '-'): it names Kubernetes objects, compose projects and images", name)
	case yaml11[name]:
		return fmt.Errorf("name %q reads as a boolean or null in YAML", name)
	}
	return nil
}

// CheckModule reports why path cannot be a Go module path, or nil.
func CheckModule(path string) error {
	if err := module.CheckPath(path); err != nil {
		return fmt.Errorf("module path: %w", err)
	}
	return nil
}

// initialisms are spelled in capitals in Go identifiers (Go Code Review
// Comments), so "my-api" is MyAPI.
var initialisms = map[string]bool{
	"acl": true, "api": true, "ascii": true, "cpu": true, "css": true, "db": true,
	"dns": true, "eof": true, "grpc": true, "guid": true, "html": true, "http": true,
	"https": true, "id": true, "ip": true, "json": true, "jwt": true, "qps": true,
	"ram": true, "rpc": true, "sdk": true, "sla": true, "smtp": true, "sql": true,
	"ssh": true, "tcp": true, "tls": true, "ttl": true, "udp": true, "ui": true,
	"uid": true, "uri": true, "url": true, "utf8": true, "uuid": true, "vm": true,
	"xml": true, "xsrf": true, "xss": true,
}

// boundary says whether the text around a match leaves it a whole word.
type boundary struct {
	// before and after are the characters that may not touch the match.
	before, after func(byte) bool
}

func alnum(c byte) bool     { return lower(c) || upperCase(c) || digit(c) }
func lower(c byte) bool     { return 'a' <= c && c <= 'z' }
func upperCase(c byte) bool { return 'A' <= c && c <= 'Z' }
func digit(c byte) bool     { return '0' <= c && c <= '9' }
func none(byte) bool        { return false }

var (
	// word: shop-api in ${PROJECT:-shop-api}-test or dev.shop-api.inputs,
	// not in myshop-apis.
	word = boundary{before: alnum, after: alnum}
	// pascal starts a word inside an identifier (newShopAPI) and ends
	// where the next word or the identifier does (ShopAPIClient).
	pascal = boundary{before: none, after: func(c byte) bool { return lower(c) || digit(c) }}
	// camel starts an identifier.
	camel = boundary{before: func(c byte) bool { return alnum(c) || c == '_' }, after: pascal.after}
	// modulePath is not a longer host (api.github.com/…) or path
	// (…/shop-api-client).
	modulePath = boundary{
		before: func(c byte) bool { return alnum(c) || c == '.' || c == '-' },
		after:  func(c byte) bool { return alnum(c) || c == '_' || c == '-' },
	}
)

// spelling writes a name's words one way.
type spelling struct {
	what  string
	spell func(words []string) string
	boundary
}

// spellings are the ways the tree writes the project's name: as is in
// names of images, volumes, k8s objects and files; in identifiers where
// '-' is not allowed (environment variables, Go, SQL).
var spellings = []spelling{
	{"name", func(w []string) string { return strings.Join(w, "-") }, word},
	{"snake_case", func(w []string) string { return strings.Join(w, "_") }, word},
	{"SCREAMING_CASE", func(w []string) string { return strings.ToUpper(strings.Join(w, "_")) }, word},
	{"joined", func(w []string) string { return strings.Join(w, "") }, word},
	{"GoPascal", func(w []string) string { return join(w, true, true) }, pascal},
	{"Pascal", func(w []string) string { return join(w, true, false) }, pascal},
	{"goCamel", func(w []string) string { return join(w, false, true) }, camel},
	{"camel", func(w []string) string { return join(w, false, false) }, camel},
}

// join capitalizes each word but perhaps the first, initialisms whole
// when goStyle.
func join(words []string, first, goStyle bool) string {
	var b strings.Builder
	for i, w := range words {
		switch {
		case i == 0 && !first:
			b.WriteString(w)
		case goStyle && initialisms[w]:
			b.WriteString(strings.ToUpper(w))
		default:
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// rule replaces one spelling of the old module path or name.
type rule struct {
	old, new string
	boundary
}

// Rules are every replacement that renames module oldModule, named
// oldName, to newModule and newName, longest first. The module path has a
// rule even when it stays, so the name within it stays too.
func Rules(oldModule, newModule, oldName, newName string) []rule {
	rules := []rule{{oldModule, newModule, modulePath}}
	if oldName != newName {
		seen := map[string]bool{}
		oldWords, newWords := strings.Split(oldName, "-"), strings.Split(newName, "-")
		for _, s := range spellings {
			old := s.spell(oldWords)
			if seen[old] {
				continue
			}
			seen[old] = true
			rules = append(rules, rule{old, s.spell(newWords), s.boundary})
		}
	}
	slices.SortStableFunc(rules, func(a, b rule) int { return len(b.old) - len(a.old) })
	return rules
}

// Replace applies rules to text in one pass: what one rule writes is never
// read by another, so a new name may contain the old one.
func Replace(text string, rules []rule) string {
	if !mentions(text, rules) {
		return text
	}
	var b strings.Builder
	for i := 0; i < len(text); {
		if r, ok := matchAt(text, i, rules); ok {
			b.WriteString(r.new)
			i += len(r.old)
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	return b.String()
}

func mentions(text string, rules []rule) bool {
	for _, r := range rules {
		if strings.Contains(text, r.old) {
			return true
		}
	}
	return false
}

// matchAt returns the first rule (the longest, as Rules orders them) whose
// text starts at i as a whole word.
func matchAt(text string, i int, rules []rule) (rule, bool) {
	for _, r := range rules {
		if !strings.HasPrefix(text[i:], r.old) {
			continue
		}
		if i > 0 && r.before(text[i-1]) && !escaped(text, i) {
			continue
		}
		if end := i + len(r.old); end < len(text) && r.after(text[end]) {
			continue
		}
		return r, true
	}
	return rule{}, false
}

// escaped reports whether the character before i ends an escape such as
// \t or \n: in $'^\tpath\tgithub.com/…' the t is not part of a word.
func escaped(text string, i int) bool {
	return i >= 2 && text[i-2] == '\\' && lower(text[i-1])
}
