// Package apitest holds what the API's test suites share: checking a
// response against the OpenAPI document instead of restating its shape (a
// definition, or a whole response), and reading JSON log lines.
package apitest

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/onsi/gomega/types"

	"github.com/twitter-api/twitter-api/docs"
)

// schema is the part of a Swagger 2.0 schema the checks read.
type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
	Nullable   bool               `json:"x-nullable"`
}

var definitions = sync.OnceValues(func() (map[string]*schema, error) {
	var doc struct {
		Definitions map[string]*schema `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(docs.SwaggerInfo.ReadDoc()), &doc); err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	return doc.Definitions, nil
})

// MatchSchema succeeds when a decoded JSON value (map[string]any, []any,
// ...) has the shape of definition name in docs/swagger.json: every required
// member, no undocumented one, each of its documented type. A field added to
// a response and to its annotations needs no edit to the specs using it.
func MatchSchema(name string) types.GomegaMatcher { return &schemaMatcher{name: name} }

type schemaMatcher struct {
	name string
	diff error
}

func (m *schemaMatcher) Match(actual any) (bool, error) {
	defs, err := definitions()
	if err != nil {
		return false, err
	}
	s, ok := defs[m.name]
	if !ok {
		return false, fmt.Errorf("docs/swagger.json has no definition %q", m.name)
	}
	m.diff = check(defs, s, actual, m.name)
	return m.diff == nil, nil
}

func (m *schemaMatcher) FailureMessage(actual any) string {
	return fmt.Sprintf("%v\ndoes not match %s in docs/swagger.json: %v", actual, m.name, m.diff)
}

func (m *schemaMatcher) NegatedFailureMessage(actual any) string {
	return fmt.Sprintf("%v\nmatches %s in docs/swagger.json", actual, m.name)
}

func check(defs map[string]*schema, s *schema, v any, at string) error {
	if s.Ref != "" {
		ref, ok := defs[strings.TrimPrefix(s.Ref, "#/definitions/")]
		if !ok {
			return fmt.Errorf("%s: unknown $ref %s", at, s.Ref)
		}
		return check(defs, ref, v, at)
	}
	if v == nil {
		if s.Nullable {
			return nil
		}
		return fmt.Errorf("%s: null, want %s", at, s.Type)
	}
	switch s.Type {
	case "object", "":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an object", at, v)
		}
		for _, k := range s.Required {
			if _, ok := obj[k]; !ok {
				return fmt.Errorf("%s: missing %q", at, k)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, ok := s.Properties[k]
			if !ok {
				return fmt.Errorf("%s: undocumented member %q", at, k)
			}
			if err := check(defs, p, obj[k], at+"."+k); err != nil {
				return err
			}
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want an array", at, v)
		}
		for i, e := range arr {
			if err := check(defs, s.Items, e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "integer":
		if f, ok := v.(float64); !ok || f != math.Trunc(f) {
			return fmt.Errorf("%s: %v, want an integer", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %v, want a number", at, v)
		}
	case "string":
		if _, ok := v.(string); !ok {
			return fmt.Errorf("%s: %v, want a string", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %v, want a boolean", at, v)
		}
	}
	return nil
}

// LogLines decodes JSON log output, a line an entry.
func LogLines(out string) ([]map[string]any, error) {
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			return lines, fmt.Errorf("log line is not JSON: %q: %w", l, err)
		}
		lines = append(lines, m)
	}
	return lines, nil
}
