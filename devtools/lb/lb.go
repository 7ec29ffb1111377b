package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type config struct {
	listen, admin string
	backends      []string
	checkPath     string
	interval      time.Duration
	checkTimeout  time.Duration
	dialTimeout   time.Duration
	rise          int
	maxBody       int64
}

func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		d, err := time.ParseDuration(str(name, def.String()))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: want a positive duration", name))
		}
		return d
	}
	num := func(name string, def int) int {
		n, err := strconv.Atoi(str(name, strconv.Itoa(def)))
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s: want a positive integer", name))
		}
		return n
	}
	c := config{
		listen:       str("LISTEN_ADDR", ":8080"),
		admin:        str("ADMIN_ADDR", ":8081"),
		checkPath:    str("CHECK_PATH", "/readyz"),
		interval:     dur("CHECK_INTERVAL", 250*time.Millisecond),
		checkTimeout: dur("CHECK_TIMEOUT", time.Second),
		dialTimeout:  dur("DIAL_TIMEOUT", time.Second),
		rise:         num("CHECK_RISE", 2),
		maxBody:      int64(num("MAX_BODY_BYTES", 16<<20)),
	}
	for _, b := range strings.Split(getenv("BACKENDS"), ",") {
		if b = strings.TrimSpace(b); b != "" {
			c.backends = append(c.backends, b)
		}
	}
	if len(c.backends) == 0 {
		errs = append(errs, errors.New("BACKENDS: missing (host:port,host:port,...)"))
	}
	return c, errors.Join(errs...)
}

// backend is one replica and what the balancer knows of it.
type backend struct {
	addr    string
	healthy atomic.Bool
	served  atomic.Int64

	mu     sync.Mutex
	since  time.Time
	reason string
	streak int
}

// set records a state change; it reports whether the state changed.
func (b *backend) set(healthy bool, reason string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.healthy.Load() == healthy && !b.since.IsZero() {
		// Still down: a failure restarts the count of passed checks.
		b.reason, b.streak = reason, 0
		return false
	}
	b.healthy.Store(healthy)
	b.since, b.reason = time.Now(), reason
	b.streak = 0
	return true
}

type balancer struct {
	cfg       config
	log       *slog.Logger
	backends  []*backend
	next      atomic.Uint64
	transport *http.Transport
}

var errNoBackend = errors.New("no healthy backend")

// pick returns the next healthy backend not yet tried, round robin.
func (lb *balancer) pick(tried []*backend) *backend {
	n := len(lb.backends)
	start := int(lb.next.Add(1) % uint64(n))
	for i := range n {
		b := lb.backends[(start+i)%n]
		if b.healthy.Load() && !containsBackend(tried, b) {
			return b
		}
	}
	return nil
}

func containsBackend(list []*backend, b *backend) bool {
	for _, x := range list {
		if x == b {
			return true
		}
	}
	return false
}

func (lb *balancer) down(b *backend, reason string) {
	if b.set(false, reason) {
		lb.log.Warn("backend down", "backend", b.addr, "reason", reason)
	}
}

// undelivered reports an error raised before any byte of the request reached
// a backend: only then is trying another one safe for every method.
func undelivered(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// RoundTrip sends the request to a healthy backend, and to the next one only
// when it could not be delivered. The Transport itself resends on a reused
// connection that closed before anything was written (the body is
// replayable through GetBody); a request that may have reached a backend is
// never sent again.
func (lb *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	var tried []*backend
	for {
		b := lb.pick(tried)
		if b == nil {
			if len(tried) == 0 {
				return nil, errNoBackend
			}
			return nil, fmt.Errorf("%w after %d undelivered attempts", errNoBackend, len(tried))
		}
		tried = append(tried, b)
		out := req.Clone(req.Context())
		out.URL.Scheme, out.URL.Host = "http", b.addr
		if req.Body != nil && req.Body != http.NoBody && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			out.Body = body
		}
		resp, err := lb.transport.RoundTrip(out)
		if err == nil {
			b.served.Add(1)
			return resp, nil
		}
		if req.Context().Err() == nil {
			// Passive check: a replica that fails a connection is out at once.
			lb.down(b, "request: "+err.Error())
		}
		if !undelivered(err) {
			return nil, err
		}
	}
}

// check probes one backend's readiness until ctx ends.
func (lb *balancer) check(ctx context.Context, b *backend) {
	client := &http.Client{
		Timeout: lb.cfg.checkTimeout,
		// A fresh connection each probe: a dead replica cannot hide behind
		// a pooled one.
		Transport: &http.Transport{DisableKeepAlives: true, DialContext: (&net.Dialer{Timeout: lb.cfg.checkTimeout}).DialContext},
	}
	tick := time.NewTicker(lb.cfg.interval)
	defer tick.Stop()
	for {
		err := probe(ctx, client, "http://"+b.addr+lb.cfg.checkPath)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			lb.down(b, "check: "+err.Error())
		case !b.healthy.Load():
			b.mu.Lock()
			b.streak++
			rise := b.streak >= lb.cfg.rise
			b.mu.Unlock()
			if rise && b.set(true, "check: ready") {
				lb.log.Info("backend up", "backend", b.addr)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func probe(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail,
	})
}

func (lb *balancer) handler() http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host
		},
		Transport: lb,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if errors.Is(err, errNoBackend) {
				lb.log.Warn("no backend", "method", r.Method, "path", r.URL.Path, "err", err)
				problem(w, http.StatusServiceUnavailable, "no replica is ready")
				return
			}
			lb.log.Error("proxy", "method", r.Method, "path", r.URL.Path, "err", err)
			problem(w, http.StatusBadGateway, "the replica failed while handling the request")
		},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body is buffered so an undelivered request can go elsewhere.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, lb.cfg.maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				problem(w, http.StatusRequestEntityTooLarge, "request body too large")
				return
			}
			problem(w, http.StatusBadRequest, "reading the request body: "+err.Error())
			return
		}
		r.ContentLength = int64(len(body))
		if len(body) == 0 {
			r.Body, r.GetBody = http.NoBody, nil
		} else {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		proxy.ServeHTTP(w, r)
	})
}

type status struct {
	Backend     string `json:"backend"`
	Healthy     bool   `json:"healthy"`
	SinceUnixNs int64  `json:"since_unix_ns"`
	Reason      string `json:"reason"`
	Served      int64  `json:"served"`
}

// status lists the backends as JSON, or with ?format=text one a line:
// "addr up|down since_unix_ns served reason", for scripts without a JSON
// parser (the reason, last, may hold spaces).
func (lb *balancer) status(w http.ResponseWriter, r *http.Request) {
	list := make([]status, 0, len(lb.backends))
	for _, b := range lb.backends {
		b.mu.Lock()
		list = append(list, status{b.addr, b.healthy.Load(), b.since.UnixNano(), b.reason, b.served.Load()})
		b.mu.Unlock()
	}
	if r.URL.Query().Get("format") == "text" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, s := range list {
			state := "down"
			if s.Healthy {
				state = "up"
			}
			fmt.Fprintf(w, "%s %s %d %d %s\n", s.Backend, state, s.SinceUnixNs, s.Served, strings.ReplaceAll(s.Reason, "\n", " "))
		}
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	lb := &balancer{
		cfg: cfg,
		log: log,
		transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: cfg.dialTimeout, KeepAlive: 15 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       30 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		},
	}
	for _, addr := range cfg.backends {
		b := &backend{addr: addr}
		b.set(false, "not checked yet")
		lb.backends = append(lb.backends, b)
		go lb.check(ctx, b)
	}

	admin := http.NewServeMux()
	admin.HandleFunc("GET /status", lb.status)
	servers := []*http.Server{
		{Addr: cfg.listen, Handler: lb.handler(), ReadHeaderTimeout: 10 * time.Second},
		{Addr: cfg.admin, Handler: admin, ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ListenAndServe() }()
	}
	log.Info("balancing", "listen", cfg.listen, "admin", cfg.admin, "backends", cfg.backends)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return nil
}
