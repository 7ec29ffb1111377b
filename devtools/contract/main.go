// Command contract checks that the API answers as docs/swagger.json says.
//
//	contract -spec docs/swagger.json -target http://api:5000 [-listen 127.0.0.1:5299] [-- command args...]
//
// It puts a validating reverse proxy in front of target, sends a set of
// hostile requests through it, then runs the command (newman, say) with
// BASE_URL pointing at the proxy. Every response is validated against the
// document: a response violation (an undocumented status, a body that does
// not match its schema) is printed with method, path and status, and makes
// the exit status 1. Request-side violations are expected, since the hostile
// requests break the document on purpose; they are counted, not failed.
//
// It is a separate module so that kin-openapi stays out of the API's go.mod.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// maxBody bounds what the proxy buffers of one body; the hostile requests
// stay below it.
const maxBody = 32 << 20

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "contract:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("contract", flag.ContinueOnError)
	specPath := fs.String("spec", "docs/swagger.json", "Swagger 2.0 document to validate against")
	target := fs.String("target", "http://localhost:5000", "base URL of the API")
	listen := fs.String("listen", "127.0.0.1:5299", "address of the validating proxy")
	hostile := fs.Bool("hostile", true, "send the hostile requests")
	verbose := fs.Bool("v", false, "print request-side violations too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	doc, err := loadSpec(ctx, *specPath)
	if err != nil {
		return err
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return fmt.Errorf("router: %w", err)
	}
	upstream, err := url.Parse(*target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	v := &validator{router: router, out: stdout, verbose: *verbose}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: v.proxy(upstream), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "contract: validating proxy on %s -> %s, document %s\n", base, upstream, *specPath)

	var failures []string
	if *hostile {
		failures = append(failures, sendHostile(ctx, base, stdout)...)
	}
	if rest := fs.Args(); len(rest) > 0 {
		cmd := exec.CommandContext(ctx, rest[0], rest[1:]...)
		cmd.Stdout, cmd.Stderr = stdout, os.Stderr
		cmd.Env = append(os.Environ(), "BASE_URL="+base)
		if err := cmd.Run(); err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", strings.Join(rest, " "), err))
		}
	}
	return v.report(stdout, failures)
}

// loadSpec reads the Swagger 2.0 document and converts it to OpenAPI 3,
// which openapi3filter validates.
func loadSpec(ctx context.Context, path string) (*openapi3.T, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(raw, &doc2); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert %s: %w", path, err)
	}
	// Match any host: the proxy is reached under many names.
	doc3.Servers = openapi3.Servers{{URL: "/"}}
	if err := doc3.Validate(ctx); err != nil {
		return nil, fmt.Errorf("%s is not a valid document: %w", path, err)
	}
	return doc3, nil
}

type validator struct {
	router  routers.Router
	out     io.Writer
	verbose bool

	mu        sync.Mutex
	responses int // responses validated against an operation
	unrouted  int // requests to no documented operation
	requestV  int // requests that break the document
	responseV []string
}

type routeKey struct{}

type routed struct {
	input *openapi3filter.RequestValidationInput
}

// proxy forwards every request to upstream unchanged and validates both
// the request and the response.
func (v *validator) proxy(upstream *url.URL) http.Handler {
	rp := httputil.NewSingleHostReverseProxy(upstream)
	// The API answers oversized headers with 431 and closes the connection
	// before reading the rest. A fresh connection a request, and a request
	// head written in one go, keep the proxy from racing that close.
	rp.Transport = &http.Transport{DisableKeepAlives: true, WriteBufferSize: 64 << 10}
	// Redirects and errors are the API's answers: pass them on as they are.
	rp.ModifyResponse = v.checkResponse
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		v.violation(r.Method, r.URL.RequestURI(), 0, "no response from the API: "+err.Error())
		w.WriteHeader(http.StatusBadGateway)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		route, params, err := v.router.FindRoute(r)
		if err != nil {
			v.mu.Lock()
			v.unrouted++
			v.mu.Unlock()
			if v.verbose {
				fmt.Fprintf(v.out, "  request  %s %s: %v\n", r.Method, r.URL.RequestURI(), err)
			}
		} else {
			in := &openapi3filter.RequestValidationInput{
				Request:    r,
				PathParams: params,
				Route:      route,
				Options: &openapi3filter.Options{
					MultiError:            true,
					IncludeResponseStatus: true,
					AuthenticationFunc:    apiKeyPresent,
				},
			}
			if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
				v.mu.Lock()
				v.requestV++
				v.mu.Unlock()
				if v.verbose {
					fmt.Fprintf(v.out, "  request  %s %s: %s\n", r.Method, r.URL.RequestURI(), oneLine(err))
				}
			}
			r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &routed{input: in}))
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	})
}

// apiKeyPresent says whether the request carries the scheme's header; the
// API, not the proxy, decides whether the key is valid.
func apiKeyPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s := in.SecurityScheme
	if s.Type == "apiKey" && s.In == "header" && in.RequestValidationInput.Request.Header.Get(s.Name) != "" {
		return nil
	}
	return fmt.Errorf("no %s header", s.Name)
}

func (v *validator) checkResponse(resp *http.Response) error {
	req := resp.Request
	rt, _ := req.Context().Value(routeKey{}).(*routed)
	if rt == nil {
		return nil // no operation to check against; counted as unrouted
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: rt.input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                rt.input.Options,
	}
	v.mu.Lock()
	v.responses++
	v.mu.Unlock()
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.violation(req.Method, req.URL.RequestURI(), resp.StatusCode, oneLine(err))
	}
	return nil
}

func (v *validator) violation(method, uri string, status int, reason string) {
	if len(uri) > 120 {
		uri = uri[:117] + "..."
	}
	line := fmt.Sprintf("%s %s %d: %s", method, uri, status, reason)
	v.mu.Lock()
	v.responseV = append(v.responseV, line)
	v.mu.Unlock()
	fmt.Fprintln(v.out, "RESPONSE VIOLATION", line)
}

func (v *validator) report(w io.Writer, failures []string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintf(w, "\ncontract: %d responses validated against the document; %d requests to no documented operation; "+
		"%d request-side violations (expected: hostile requests); %d response violations\n",
		v.responses, v.unrouted, v.requestV, len(v.responseV))
	if len(v.responseV) > 0 {
		fmt.Fprintln(w, "response violations (method path status: reason):")
		for _, l := range v.responseV {
			fmt.Fprintln(w, "  "+l)
		}
	}
	for _, f := range failures {
		fmt.Fprintln(w, "FAILED", f)
	}
	if len(v.responseV) > 0 || len(failures) > 0 {
		return errors.New("the API and docs/swagger.json disagree")
	}
	fmt.Fprintln(w, "contract: PASS")
	return nil
}

// oneLine flattens kin-openapi's errors into one short line: for a body
// off its schema, where and why, without the schema itself.
func oneLine(err error) string {
	s := strings.Join(strings.Fields(describe(err)), " ")
	if len(s) > 400 {
		s = s[:397] + "..."
	}
	return s
}

func describe(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		parts := make([]string, len(me))
		for i, e := range me {
			parts[i] = describe(e)
		}
		return strings.Join(parts, "; ")
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return fmt.Sprintf("body at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason)
	}
	return err.Error()
}
