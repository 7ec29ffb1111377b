// Command debugcheck proves that the API under `make debug` can be debugged
// across a reload, the way an editor does it: it attaches to the headless
// Delve server with Delve's own JSON-RPC client, sets a breakpoint in the
// /hello handler, sends GET /hello and checks where and with what the API
// stopped, lets it answer, then edits a Go file, waits for air to rebuild
// and restart Delve, attaches again and hits the breakpoint again.
//
// Last it stops there once more and saves while the API is stopped: the
// reload must replace a process held at a breakpoint too.
//
// make test-debug runs it against a throwaway debug stack, from the
// repository root (it edits app/httpapi): built in the devtools module,
// run here.
//
//	go -C proving build -o /tmp/debugcheck ./debugcheck
//	/tmp/debugcheck -api http://127.0.0.1:5000 -dlv 127.0.0.1:2345
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/go-delve/delve/service/api"
	"github.com/go-delve/delve/service/rpc2"
)

// The breakpoint goes on the /hello handler's only statement, found in the
// source so that moving the handler does not break the check.
const (
	handlerFile = "app/httpapi/health.go"
	handlerStmt = `return c.SendString("Goodbye World!")`
	handlerFunc = "github.com/twitter-api/twitter-api/app/httpapi.handleHello.func1"
	wantBody    = "Goodbye World!"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "debugcheck: FAIL:", err)
		os.Exit(1)
	}
}

type options struct {
	apiURL     string        // the API, as a client reaches it
	dlvAddr    string        // the Delve server, as an editor reaches it
	remoteRoot string        // the source tree's path in the binary (substitutePath's "to")
	timeout    time.Duration // the whole check
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	var o options
	fs.StringVar(&o.apiURL, "api", "http://127.0.0.1:"+orDefault(getenv("API_PORT"), "5000"), "API base URL")
	fs.StringVar(&o.dlvAddr, "dlv", "127.0.0.1:"+orDefault(getenv("DEBUG_PORT"), "2345"), "Delve server address")
	fs.StringVar(&o.remoteRoot, "remote-root", "/src", "where the tree was when the API was built")
	fs.DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up after this long")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	src, err := os.ReadFile(handlerFile)
	if err != nil {
		return fmt.Errorf("read handler source: %w", err)
	}
	line := lineOf(string(src), handlerStmt)
	if line == 0 {
		return fmt.Errorf("%s: no line %q", handlerFile, handlerStmt)
	}
	bp := api.Breakpoint{File: path.Join(o.remoteRoot, handlerFile), Line: line}

	fmt.Fprintf(stdout, "debugcheck: Delve at %s, API at %s, breakpoint %s:%d\n", o.dlvAddr, o.apiURL, handlerFile, line)
	pid1, err := hitBreakpoint(ctx, stdout, o, bp, 1, true)
	if err != nil {
		return fmt.Errorf("before reload: %w", err)
	}

	// Edit a Go file as a developer would; whatever happens next, put it back.
	started, err := startedAt(ctx, o.apiURL)
	if err != nil {
		return err
	}
	restore, err := appendComment(handlerFile, fmt.Sprintf("\n// debugcheck edit %d\n", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	defer func() {
		if err := restore(); err != nil {
			fmt.Fprintln(os.Stderr, "debugcheck: restore", handlerFile+":", err)
		}
	}()
	saved := time.Now()
	if err := waitReload(ctx, o.apiURL, started); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "debugcheck: edited %s; the rebuilt API serves under Delve %d ms later\n", handlerFile, time.Since(saved).Milliseconds())

	pid2, err := hitBreakpoint(ctx, stdout, o, bp, 2, true)
	if err != nil {
		return fmt.Errorf("after reload: %w", err)
	}
	if pid2 == pid1 {
		return fmt.Errorf("after reload Delve still debugs pid %d: the API was not restarted under a new Delve", pid1)
	}

	// Saving while the API is stopped at a breakpoint must reload too: the
	// stopped process has to go and free the ports for the next one.
	if started, err = startedAt(ctx, o.apiURL); err != nil {
		return err
	}
	if _, err := hitBreakpoint(ctx, stdout, o, bp, 3, false); err != nil {
		return fmt.Errorf("stopped at the breakpoint: %w", err)
	}
	saved = time.Now()
	if err := restore(); err != nil {
		return err
	}
	if err := waitReload(ctx, o.apiURL, started); err != nil {
		return fmt.Errorf("saved while stopped at the breakpoint: %w", err)
	}
	fmt.Fprintf(stdout, "debugcheck: undid the edit while stopped at the breakpoint; the rebuilt API serves %d ms later\n", time.Since(saved).Milliseconds())
	fmt.Fprintln(stdout, "debugcheck: PASS")
	return nil
}

// hitBreakpoint attaches, sets bp, sends GET /hello and checks that the API
// stops there with the request waiting. With release it then lets the
// request answer and detaches leaving the API running; without, it detaches
// leaving the API stopped. It returns the debugged process's pid.
func hitBreakpoint(ctx context.Context, stdout io.Writer, o options, bp api.Breakpoint, round int, release bool) (int, error) {
	client, err := attach(ctx, o.dlvAddr)
	if err != nil {
		return 0, err
	}
	// The connection is the client's only tie to the server: closing it
	// (also when a check fails) leaves the API running for the next round.
	defer func() { _ = client.Disconnect(false) }()
	stopCtx := context.AfterFunc(ctx, func() { _ = client.Disconnect(false) })
	defer stopCtx()

	// A running target must be stopped first: until then Delve answers
	// nothing else, not even the pid.
	if _, err := client.Halt(); err != nil {
		return 0, fmt.Errorf("halt: %w", err)
	}
	pid := client.ProcessPid()
	set, err := client.CreateBreakpoint(&bp)
	if err != nil {
		return 0, fmt.Errorf("create breakpoint at %s:%d: %w", bp.File, bp.Line, err)
	}
	stops := client.Continue()

	reply := make(chan result, 1)
	go func() { reply <- get(ctx, o.apiURL+"/hello") }()

	var state *api.DebuggerState
	select {
	case state = <-stops:
	case r := <-reply:
		return 0, fmt.Errorf("GET /hello answered (%q, %w) without stopping at the breakpoint", r.body, r.err)
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for the breakpoint: %w", ctx.Err())
	}
	if state == nil || state.Err != nil || state.Exited {
		return 0, fmt.Errorf("continue: the API did not stop: %+v", state)
	}
	th := state.CurrentThread
	switch {
	case th == nil || th.Breakpoint == nil || th.Breakpoint.ID != set.ID:
		return 0, fmt.Errorf("stopped, but not at breakpoint %d: %+v", set.ID, th)
	case th.File != bp.File || th.Line != bp.Line:
		return 0, fmt.Errorf("stopped at %s:%d, want %s:%d", th.File, th.Line, bp.File, bp.Line)
	case th.Function.Name() != handlerFunc:
		return 0, fmt.Errorf("stopped in %s, want %s", th.Function.Name(), handlerFunc)
	}
	// The request is held while the API is stopped.
	select {
	case r := <-reply:
		return 0, fmt.Errorf("GET /hello answered (%q, %w) while stopped at the breakpoint", r.body, r.err)
	default:
	}
	// The handler's argument, as a debugger's variables view shows it.
	scope := api.EvalScope{GoroutineID: th.GoroutineID}
	cfg := api.LoadConfig{FollowPointers: true, MaxVariableRecurse: 1, MaxStringLen: 64, MaxStructFields: -1}
	for expr, want := range map[string]string{"c.path": "/hello", "c.method": "GET"} {
		v, err := client.EvalVariable(scope, expr, cfg)
		if err != nil {
			return 0, fmt.Errorf("eval %s: %w", expr, err)
		}
		if v.Value != want {
			return 0, fmt.Errorf("%s = %q, want %q", expr, v.Value, want)
		}
	}
	fmt.Fprintf(stdout, "debugcheck: round %d: pid %d stopped at %s:%d in %s with c.path=%q c.method=%q; GET /hello waiting\n",
		round, pid, strings.TrimPrefix(th.File, o.remoteRoot+"/"), th.Line, path.Base(th.Function.Name()), "/hello", "GET")

	if !release {
		return pid, nil
	}
	// Drop the breakpoint so later requests run free, and let this one answer.
	if _, err := client.ClearBreakpoint(set.ID); err != nil {
		return 0, fmt.Errorf("clear breakpoint: %w", err)
	}
	_ = client.Continue() // returns when the target next stops; not awaited
	var r result
	select {
	case r = <-reply:
	case <-ctx.Done():
		return 0, fmt.Errorf("waiting for GET /hello after continue: %w", ctx.Err())
	}
	if r.err != nil {
		return 0, fmt.Errorf("GET /hello after continue: %w", r.err)
	}
	if r.status != http.StatusOK || r.body != wantBody {
		return 0, fmt.Errorf("GET /hello after continue: %d %q, want 200 %q", r.status, r.body, wantBody)
	}
	fmt.Fprintf(stdout, "debugcheck: round %d: continued; GET /hello answered %d %q\n", round, r.status, r.body)
	return pid, nil
}

// attach connects to the Delve server, retrying while it (re)starts.
func attach(ctx context.Context, addr string) (*rpc2.RPCClient, error) {
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return rpc2.NewClientFromConn(conn), nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect to Delve at %s: %w", addr, errors.Join(ctx.Err(), err))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type result struct {
	status int
	body   string
	err    error
}

func get(ctx context.Context, url string) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return result{err: err}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return result{status: resp.StatusCode, body: string(body), err: err}
}

var startedRE = regexp.MustCompile(`"started_at":"([^"]+)"`)

// startedAt is the serving process's start time from /healthz.
func startedAt(ctx context.Context, base string) (string, error) {
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r := get(rctx, base+"/healthz")
	if r.err != nil {
		return "", fmt.Errorf("GET /healthz: %w", r.err)
	}
	m := startedRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || m == nil {
		return "", fmt.Errorf("GET /healthz: %d %q", r.status, r.body)
	}
	return m[1], nil
}

// waitReload polls /healthz until a process other than the one started at
// before serves it.
func waitReload(ctx context.Context, base, before string) error {
	for {
		if now, err := startedAt(ctx, base); err == nil && now != before {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the reload after the edit: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// appendComment appends text to file and returns a function that restores
// the file's previous content.
func appendComment(file, text string) (func() error, error) {
	old, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(file, append(old[:len(old):len(old)], text...), info.Mode()); err != nil {
		return nil, fmt.Errorf("edit %s: %w", file, err)
	}
	restored := false
	return func() error {
		if restored {
			return nil
		}
		restored = true
		return os.WriteFile(file, old, info.Mode())
	}, nil
}

func lineOf(src, stmt string) int {
	for i, l := range strings.Split(src, "\n") {
		if strings.TrimSpace(l) == stmt {
			return i + 1
		}
	}
	return 0
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
