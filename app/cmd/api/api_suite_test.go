package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
)

func TestAPI(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "cmd/api end-to-end suite")
}

// execEnv, set in its environment, makes the test binary the service
// itself: specs start it as a child process and send it real signals, with
// main's code path (run with os.Getenv and os.Stdout) and no build step.
const execEnv = "API_TEST_EXEC_AS_SERVICE"

func TestMain(m *testing.M) {
	if os.Getenv(execEnv) == "1" {
		if err := run(context.Background(), []string{"api", "serve"}, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "api:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// tdb is this process's migrated database, emptied before every spec.
var tdb = testdb.Suite("e2e")

// env is a fake environment for run's getenv.
type env map[string]string

func (e env) get(name string) string { return e[name] }

// freePort returns a TCP port nothing listens on, below the kernel's
// ephemeral range: a port from Listen(":0") can be taken by any outgoing
// connection before the service binds it (EADDRINUSE, seen in CI). Each
// parallel process owns its own block, so picks never collide.
func freePort() int {
	GinkgoHelper()
	const base, block = 20000, 400
	first := base + (GinkgoParallelProcess()-1)*block
	Expect(first+block).To(BeNumerically("<=", ephemeralLow()), "the port blocks overlap the ephemeral range")
	for range block {
		port := first + int(picked.Add(1))%block
		if ln, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err == nil {
			Expect(ln.Close()).To(Succeed())
			return port
		}
	}
	Fail(fmt.Sprintf("no free port in %d-%d", first, first+block-1))
	return 0
}

var picked atomic.Int32

// ephemeralLow is the first port the kernel hands to outgoing connections.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768 // Linux's default
	}
	low, err := strconv.Atoi(strings.Fields(string(b))[0])
	Expect(err).NotTo(HaveOccurred())
	return low
}

// server is a run("serve") in the background.
type server struct {
	base   string // http://127.0.0.1:PORT
	port   int
	out    *gbytes.Buffer // run's stdout: the JSON logs
	done   chan struct{}  // closed when run has returned
	err    error          // what run returned, once done is closed
	cancel context.CancelFunc
}

// startServer runs the service with e (PORT is filled in) and waits until
// it answers /healthz. The server is stopped after the spec if still up.
func startServer(e env) *server {
	GinkgoHelper()
	port := freePort()
	e["PORT"] = strconv.Itoa(port)
	if _, ok := e["SHUTDOWN_DELAY"]; !ok {
		e["SHUTDOWN_DELAY"] = "0" // nothing balances load here; the termination spec sets its own
	}
	if _, ok := e["ADMIN_ADDR"]; !ok {
		e["ADMIN_ADDR"] = "127.0.0.1:0" // specs run in parallel: a port each
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{
		base:   fmt.Sprintf("http://127.0.0.1:%d", port),
		port:   port,
		out:    gbytes.NewBuffer(),
		done:   make(chan struct{}),
		cancel: cancel,
	}
	go func() {
		defer GinkgoRecover()
		defer close(s.done)
		s.err = run(ctx, []string{"api", "serve"}, e.get, s.out)
	}()
	DeferCleanup(func() {
		cancel()
		Eventually(s.done).WithTimeout(30 * time.Second).Should(BeClosed())
	})
	Eventually(func() (int, error) {
		select {
		case <-s.done:
			return 0, StopTrying(fmt.Sprintf("run returned early: %v\n%s", s.err, s.out.Contents()))
		default:
		}
		r, err := client.Get(s.base + "/healthz")
		if err != nil {
			return 0, err
		}
		r.Body.Close()
		return r.StatusCode, nil
	}).WithTimeout(20 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal(http.StatusOK))
	return s
}

// stop cancels run's context and expects it to return nil.
func (s *server) stop() {
	GinkgoHelper()
	s.cancel()
	Eventually(s.done).WithTimeout(30 * time.Second).Should(BeClosed())
	Expect(s.err).NotTo(HaveOccurred(), "logs:\n%s", s.out.Contents())
}

// client talks to the server over real HTTP and never follows redirects.
var client = &http.Client{
	Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// result is a response read in full.
type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) String() string { return fmt.Sprintf("%d %v %s", r.status, r.header, r.body) }

func (r result) object() map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(r.body, &m)).To(Succeed(), "body: %s", r.body)
	return m
}

// do sends a request with c; body, when not empty, is sent as JSON.
// header holds name, value pairs.
func do(c *http.Client, method, target, body string, header ...string) result {
	GinkgoHelper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, rd)
	Expect(err).NotTo(HaveOccurred())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

// expectProblem checks an RFC 9457 problem response.
func expectProblem(r result, status int) {
	GinkgoHelper()
	Expect(r.status).To(Equal(status), "response: %s", r)
	Expect(r.header.Get("Content-Type")).To(Equal("application/problem+json"))
	p := r.object()
	Expect(p).To(HaveKeyWithValue("type", "about:blank"))
	Expect(p).To(HaveKeyWithValue("status", BeNumerically("==", status)))
	Expect(p).To(HaveKeyWithValue("title", http.StatusText(status)))
	Expect(p).To(HaveKeyWithValue("detail", Not(BeEmpty())))
}

// withHost returns dsn pointing at host:port instead.
func withHost(dsn, hostport string) string {
	GinkgoHelper()
	u, err := url.Parse(dsn)
	Expect(err).NotTo(HaveOccurred())
	u.Host = hostport
	return u.String()
}

// gate is a TCP relay that reports the first connection it accepts and
// holds every connection until opened: it shows that a request is waiting
// for the database, and keeps it waiting. After the spec, connections still
// held are cut, so nothing stray reaches the database of the next spec.
type gate struct {
	ln       net.Listener
	accepted chan struct{}
	release  chan struct{}
	cut      chan struct{}
	once     sync.Once
	relOnce  sync.Once
}

func startGate(target string) *gate {
	GinkgoHelper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	g := &gate{ln: ln, accepted: make(chan struct{}), release: make(chan struct{}), cut: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			g.once.Do(func() { close(g.accepted) })
			go g.relay(c, target)
		}
	}()
	DeferCleanup(func() {
		close(g.cut)
		_ = ln.Close()
	})
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

// open lets held and future connections through.
func (g *gate) open() { g.relOnce.Do(func() { close(g.release) }) }

func (g *gate) relay(c net.Conn, target string) {
	defer c.Close()
	select {
	case <-g.release:
	case <-g.cut:
		return
	}
	s, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		return
	}
	defer s.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(s, c); _ = s.Close(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, s); _ = c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

// logLines decodes run's JSON log output.
func logLines(out *gbytes.Buffer) []map[string]any {
	GinkgoHelper()
	lines, err := apitest.LogLines(string(out.Contents()))
	Expect(err).NotTo(HaveOccurred())
	return lines
}
