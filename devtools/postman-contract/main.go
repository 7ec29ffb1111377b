// Command postman-contract writes the response schemas of docs/swagger.json
// into the Postman collection's test script, so the collection checks every
// response against the same document the API is generated with.
//
//	go -C devtools build -o /tmp/postman-contract ./postman-contract
//	/tmp/postman-contract [-swagger docs/swagger.json] [-collection C] [-out C]
//
// The paths are relative to where it runs, the repository root.
//
// Only the lines between the collection script's "BEGIN generated" and
// "END generated" markers change; the rest of the file is left as written.
// make docs runs it (through devtools/swag.sh) and make docs-check compares.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

const (
	beginMarker = "// BEGIN generated from docs/swagger.json by make docs; do not edit"
	endMarker   = "// END generated"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "postman-contract:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("postman-contract", flag.ContinueOnError)
	swaggerPath := fs.String("swagger", "docs/swagger.json", "the Swagger 2.0 document")
	collectionPath := fs.String("collection", "docs/postman/twitter-api.postman_collection.json", "the Postman collection to read")
	outPath := fs.String("out", "", "where to write the collection (default: in place)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *outPath == "" {
		*outPath = *collectionPath
	}
	raw, err := os.ReadFile(*swaggerPath)
	if err != nil {
		return err
	}
	var doc swagger
	if err := json.Unmarshal(raw, &doc); err != nil {
		return fmt.Errorf("%s: %w", *swaggerPath, err)
	}
	script, err := contractScript(doc)
	if err != nil {
		return err
	}
	collection, err := os.ReadFile(*collectionPath)
	if err != nil {
		return err
	}
	out, err := replaceBlock(collection, script)
	if err != nil {
		return fmt.Errorf("%s: %w", *collectionPath, err)
	}
	var check any
	if err := json.Unmarshal(out, &check); err != nil {
		return fmt.Errorf("the collection would not be valid JSON: %w", err)
	}
	return os.WriteFile(*outPath, out, 0o644)
}

type swagger struct {
	Produces    []string                        `json:"produces"`
	Paths       map[string]map[string]operation `json:"paths"`
	Definitions map[string]map[string]any       `json:"definitions"`
}

type operation struct {
	Produces  []string            `json:"produces"`
	Responses map[string]response `json:"responses"`
}

type response struct {
	Schema map[string]any `json:"schema"`
}

var methods = []string{"get", "put", "post", "delete", "options", "head", "patch"}

// contractScript is the JavaScript between the markers: the document's
// definitions and, for each operation, what it produces and each status's
// body schema (null for no body), as JSON Schema draft-07 for Ajv.
func contractScript(doc swagger) ([]string, error) {
	if len(doc.Paths) == 0 {
		return nil, errors.New("the document has no paths")
	}
	lines := []string{beginMarker, "const openapi = {", "  definitions: {"}
	for _, name := range sortedKeys(doc.Definitions) {
		lines = append(lines, fmt.Sprintf("    %s: %s,", mustJSON(name), mustJSON(toJSONSchema(doc.Definitions[name]))))
	}
	lines = append(lines, "  },", "  operations: {")
	for _, path := range sortedKeys(doc.Paths) {
		item := doc.Paths[path]
		for _, m := range methods {
			op, ok := item[m]
			if !ok {
				continue
			}
			produces := op.Produces
			if len(produces) == 0 {
				produces = doc.Produces
			}
			responses := map[string]any{}
			for status, r := range op.Responses {
				if r.Schema == nil {
					responses[status] = nil
				} else {
					responses[status] = toJSONSchema(r.Schema)
				}
			}
			entry := map[string]any{"produces": produces, "responses": responses}
			lines = append(lines, fmt.Sprintf("    %s: %s,", mustJSON(strings.ToUpper(m)+" "+path), mustJSON(entry)))
		}
	}
	return append(lines, "  },", "};", endMarker), nil
}

// toJSONSchema turns a Swagger 2.0 schema into JSON Schema: x-nullable
// becomes a "null" type, and objects allow no member the document does not
// name. Descriptions and examples are left out.
func toJSONSchema(s map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		switch k {
		case "description", "example", "x-nullable":
		case "$ref":
			out[k] = v
		case "properties":
			props := map[string]any{}
			for name, p := range v.(map[string]any) {
				props[name] = toJSONSchema(p.(map[string]any))
			}
			out[k] = props
		case "items":
			out[k] = toJSONSchema(v.(map[string]any))
		case "allOf", "anyOf", "oneOf":
			var list []any
			for _, sub := range v.([]any) {
				list = append(list, toJSONSchema(sub.(map[string]any)))
			}
			out[k] = list
		default:
			if !strings.HasPrefix(k, "x-") {
				out[k] = v
			}
		}
	}
	if _, ok := out["properties"]; ok {
		out["additionalProperties"] = false
	}
	if nullable, _ := s["x-nullable"].(bool); nullable {
		if t, ok := out["type"].(string); ok {
			out["type"] = []string{t, "null"}
		} else {
			out = map[string]any{"anyOf": []any{out, map[string]any{"type": "null"}}}
		}
	}
	return out
}

// replaceBlock swaps the JSON string lines between the markers of the
// collection for script, keeping the marker line's indentation.
func replaceBlock(collection []byte, script []string) ([]byte, error) {
	lines := strings.Split(string(collection), "\n")
	begin, end := -1, -1
	for i, l := range lines {
		switch {
		case strings.Contains(l, mustJSON(beginMarker)):
			begin = i
		case strings.Contains(l, mustJSON(endMarker)) && begin >= 0 && end < 0:
			end = i
		}
	}
	if begin < 0 || end < 0 {
		return nil, fmt.Errorf("no %q ... %q block in a test script", beginMarker, endMarker)
	}
	indent := lines[begin][:len(lines[begin])-len(strings.TrimLeft(lines[begin], "\t "))]
	trailing := strings.HasSuffix(strings.TrimSpace(lines[end]), ",")
	var block []string
	for i, s := range script {
		l := indent + mustJSON(s)
		if i < len(script)-1 || trailing {
			l += ","
		}
		block = append(block, l)
	}
	out := append(append(append([]string{}, lines[:begin]...), block...), lines[end+1:]...)
	return []byte(strings.Join(out, "\n")), nil
}

func mustJSON(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
