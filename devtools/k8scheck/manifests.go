// Package k8scheck renders the kustomize overlays in deploy/k8s and decodes
// every object strictly into the Kubernetes API types, so the policy suite
// beside it can assert on typed objects. Everything runs offline: kustomize
// is the version pinned as a tool in this module's go.mod.
package k8scheck

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// Render runs the pinned kustomize on an overlay directory.
func Render(dir string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("go", "tool", "kustomize", "build", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w: %s", dir, err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// decoder knows only the kinds the manifests may contain (no Job: migrations
// run in the pods' init container); anything else is an error, as are
// unknown fields, duplicate fields and wrong types.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// Decode splits a multi-document YAML stream and decodes each document
// strictly into its typed object.
func Decode(stream []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var objs []runtime.Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if blank(doc) {
			continue
		}
		// A strict decoding error comes with a decoded object; it still fails.
		obj, gvk, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("document %d (%v): %w", i, gvk, err)
		}
		objs = append(objs, obj)
	}
	if len(objs) == 0 {
		return nil, errors.New("no objects")
	}
	return objs, nil
}

// blank reports a document of only separators, comments and space.
func blank(doc []byte) bool {
	for line := range bytes.Lines(doc) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && !bytes.HasPrefix(line, []byte("---")) && line[0] != '#' {
			return false
		}
	}
	return true
}

// GetRoutes reads the Go source of the API's routes and returns every path
// registered with app.Get, the only method a probe uses.
func GetRoutes(src []byte) (map[string]bool, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", src, 0)
	if err != nil {
		return nil, err
	}
	paths := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Get" {
			return true
		}
		if recv, ok := sel.X.(*ast.Ident); !ok || recv.Name != "app" {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			if p, err := strconv.Unquote(lit.Value); err == nil {
				paths[p] = true
			}
		}
		return true
	})
	if len(paths) == 0 {
		return nil, errors.New("no app.Get routes found")
	}
	return paths, nil
}

// DurationConsts reads the constants of a Go file written as N * time.Unit
// (or time.Unit alone), such as the service's shutdown limits.
func DurationConsts(src []byte) (map[string]time.Duration, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", src, 0)
	if err != nil {
		return nil, err
	}
	units := map[string]time.Duration{"Nanosecond": time.Nanosecond, "Microsecond": time.Microsecond,
		"Millisecond": time.Millisecond, "Second": time.Second, "Minute": time.Minute, "Hour": time.Hour}
	unit := func(e ast.Expr) (time.Duration, bool) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok {
			return 0, false
		}
		if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "time" {
			return 0, false
		}
		d, ok := units[sel.Sel.Name]
		return d, ok
	}
	consts := map[string]time.Duration{}
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.CONST {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if i >= len(vs.Values) {
					break
				}
				switch v := vs.Values[i].(type) {
				case *ast.SelectorExpr:
					if d, ok := unit(v); ok {
						consts[name.Name] = d
					}
				case *ast.BinaryExpr:
					lit, ok := v.X.(*ast.BasicLit)
					d, isUnit := unit(v.Y)
					if v.Op != token.MUL || !ok || lit.Kind != token.INT || !isUnit {
						continue
					}
					if n, err := strconv.ParseInt(lit.Value, 0, 64); err == nil {
						consts[name.Name] = time.Duration(n) * d
					}
				}
			}
		}
	}
	return consts, nil
}
