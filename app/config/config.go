// Package config reads the service's settings from the environment, once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

// Config holds every setting; see .env.example for their meaning.
type Config struct {
	DatabaseURL string
	Port        int
	LogLevel    slog.Level
	LogFormat   string // "json" or "text"

	DBMaxOpenConns    int
	DBMaxIdleConns    int
	DBConnMaxLifetime time.Duration
	DBConnMaxIdleTime time.Duration

	// RequestTimeout is one request's whole budget: authentication, every
	// query share it.
	RequestTimeout   time.Duration
	HTTPReadTimeout  time.Duration
	HTTPWriteTimeout time.Duration
	HTTPIdleTimeout  time.Duration
	// MaxConns and MaxConnsPerIP bound the connections served at once, in
	// all and from one address (0: no per-address bound).
	MaxConns      int
	MaxConnsPerIP int
	// TrustedProxies are the proxies (CIDRs) whose X-Forwarded-For names
	// the client and whose traceparent is continued; none by default.
	TrustedProxies []netip.Prefix
	// On SIGTERM the service reports itself unready, keeps serving for
	// ShutdownDelay so load balancers notice, then drains for at most
	// ShutdownTimeout. With AbortGrace their sum must stay below
	// ShutdownGrace, the orchestrator's stop grace period: SIGKILL follows
	// SIGTERM after it.
	ShutdownDelay   time.Duration
	ShutdownTimeout time.Duration
	ShutdownGrace   time.Duration

	// Each migration gives up when it waits longer than this for a lock,
	// or runs a statement longer than this, instead of queueing traffic
	// behind it.
	MigrationLockTimeout      time.Duration
	MigrationStatementTimeout time.Duration

	// APIKeyOverlap is how long the previous keys of a user keep working
	// after a new key is issued, unless the request revokes them at once.
	APIKeyOverlap time.Duration

	// MaxBodyBytes bounds each JSON request body.
	MaxBodyBytes int

	// Per client and RateWindow, counted by each replica: POST /users, and
	// writes without an API key. Per user: writes of tweets with a key, and
	// key rotations, revocations and account deletions. 0 turns a limit off.
	RateLimitSignups         int
	RateLimitAnonymousWrites int
	RateLimitKeyedWrites     int
	RateLimitAccount         int
	RateWindow               time.Duration

	// AdminAddr is where /metrics and /debug/pprof/ listen, never on the
	// public port; empty when ADMIN_ADDR is off.
	AdminAddr string
	// Tracing is the OpenTelemetry trace export.
	Tracing Tracing
}

// DefaultAdminAddr is ADMIN_ADDR when unset: loopback, so only the host
// itself (or, in a container, the container) reaches metrics and profiles.
const DefaultAdminAddr = "127.0.0.1:9090"

// DefaultServiceName is OTEL_SERVICE_NAME when unset: the last element of
// the module path, so the service is named where its module is (make
// rename rewrites the module path) and nowhere else.
var DefaultServiceName = moduleName()

func moduleName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return path.Base(bi.Main.Path)
	}
	return "api" // a binary built without module information
}

// Tracing is read from the standard OpenTelemetry variables. Tracing is on
// only when an OTLP endpoint is set: otherwise nothing is started, recorded
// or exported. The exporter reads the rest of the standard variables
// (OTEL_EXPORTER_OTLP_TIMEOUT, _COMPRESSION, _CERTIFICATE, OTEL_BSP_*)
// from the process environment itself.
type Tracing struct {
	// Endpoint is the full OTLP/HTTP traces URL, such as
	// http://jaeger:4318/v1/traces; empty turns tracing off.
	Endpoint string
	// Headers are sent with every export, for backends that want a key.
	Headers     map[string]string
	ServiceName string
	// ResourceAttributes describe the process (OTEL_RESOURCE_ATTRIBUTES).
	ResourceAttributes map[string]string
	// Sampler is an OTEL_TRACES_SAMPLER name; SamplerArg is the ratio of
	// the traceidratio samplers.
	Sampler    string
	SamplerArg float64
}

// Enabled reports whether traces are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// Samplers are the OTEL_TRACES_SAMPLER values understood.
var Samplers = []string{"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
	"always_on", "always_off", "traceidratio"}

// DefaultShutdownGrace is SHUTDOWN_GRACE when unset: the stop grace period of
// Docker and compose.
const DefaultShutdownGrace = 10 * time.Second

// MaxAPIKeyOverlap bounds API_KEY_OVERLAP: a replaced key must end.
const MaxAPIKeyOverlap = 30 * 24 * time.Hour

// AbortGrace is how long requests cancelled at the end of the drain get to
// answer (503) before the process exits.
const AbortGrace = 500 * time.Millisecond

// Load builds a Config from getenv (os.Getenv in production). It reports
// every missing or invalid variable by name, not just the first.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL: r.required("DATABASE_URL"),
		Port:        r.int("PORT", 5000, 1, 65535),
		LogLevel:    r.level("LOG_LEVEL", slog.LevelInfo),
		LogFormat:   r.oneOf("LOG_FORMAT", "json", "json", "text"),

		DBMaxOpenConns:    r.int("DB_MAX_OPEN_CONNS", DefaultMaxOpenConns(), 1, 1000),
		DBConnMaxLifetime: r.duration("DB_CONN_MAX_LIFETIME", 30*time.Minute),
		DBConnMaxIdleTime: r.duration("DB_CONN_MAX_IDLE_TIME", 5*time.Minute),

		RequestTimeout:   r.duration("REQUEST_TIMEOUT", 5*time.Second),
		HTTPReadTimeout:  r.duration("HTTP_READ_TIMEOUT", 10*time.Second),
		HTTPWriteTimeout: r.duration("HTTP_WRITE_TIMEOUT", 10*time.Second),
		HTTPIdleTimeout:  r.duration("HTTP_IDLE_TIMEOUT", 30*time.Second),
		MaxConns:         r.int("MAX_CONNS", httpapi.DefaultMaxConns, 1, 1_000_000),
		MaxConnsPerIP:    r.int("MAX_CONNS_PER_IP", httpapi.DefaultMaxConnsPerIP, 0, 1_000_000),
		TrustedProxies:   r.prefixes("TRUSTED_PROXIES"),
		ShutdownDelay:    r.durationOrZero("SHUTDOWN_DELAY", 2*time.Second),
		ShutdownTimeout:  r.duration("SHUTDOWN_TIMEOUT", 6*time.Second),
		ShutdownGrace:    r.duration("SHUTDOWN_GRACE", DefaultShutdownGrace),

		MigrationLockTimeout:      r.duration("MIGRATION_LOCK_TIMEOUT", 5*time.Second),
		MigrationStatementTimeout: r.duration("MIGRATION_STATEMENT_TIMEOUT", time.Minute),

		APIKeyOverlap: r.duration("API_KEY_OVERLAP", 24*time.Hour),

		MaxBodyBytes: r.int("MAX_BODY_BYTES", 16<<10, 1<<10, 1<<20),

		RateLimitSignups:         r.int("RATE_LIMIT_SIGNUPS", 10, 0, 1_000_000),
		RateLimitAnonymousWrites: r.int("RATE_LIMIT_ANONYMOUS_WRITES", 60, 0, 1_000_000),
		RateLimitKeyedWrites:     r.int("RATE_LIMIT_KEYED_WRITES", httpapi.DefaultKeyedWriteLimit, 0, 1_000_000),
		RateLimitAccount:         r.int("RATE_LIMIT_ACCOUNT", httpapi.DefaultAccountLimit, 0, 1_000_000),
		RateWindow:               r.duration("RATE_WINDOW", time.Minute),

		AdminAddr: r.addr("ADMIN_ADDR", DefaultAdminAddr),
		Tracing:   r.tracing(),
	}
	// Idle equals open unless set: fewer idle than open closes connections
	// under load that the next request must reopen.
	c.DBMaxIdleConns = r.int("DB_MAX_IDLE_CONNS", c.DBMaxOpenConns, 0, 1000)
	if c.DBMaxIdleConns > c.DBMaxOpenConns {
		r.fail("DB_MAX_IDLE_CONNS", "must not exceed DB_MAX_OPEN_CONNS (%d)", c.DBMaxOpenConns)
	}
	if total := c.ShutdownDelay + c.ShutdownTimeout + AbortGrace; total >= c.ShutdownGrace {
		r.fail("SHUTDOWN_DELAY", "+ SHUTDOWN_TIMEOUT + %s is %s: it must stay below SHUTDOWN_GRACE (%s), "+
			"the orchestrator's stop grace period, or SIGKILL cuts the drain short; raise the grace "+
			"(docker stop -t, stop_grace_period, terminationGracePeriodSeconds) and SHUTDOWN_GRACE with it",
			AbortGrace, total, c.ShutdownGrace)
	}
	if c.APIKeyOverlap > MaxAPIKeyOverlap {
		r.fail("API_KEY_OVERLAP", "must be at most %s, got %s", MaxAPIKeyOverlap, c.APIKeyOverlap)
	}
	if len(r.errs) > 0 {
		return Config{}, fmt.Errorf("config: %w", errors.Join(r.errs...))
	}
	return c, nil
}

// DefaultMaxOpenConns is DB_MAX_OPEN_CONNS when unset: four connections a
// CPU the process may use (GOMAXPROCS, which follows the container's CPU
// limit), at least 4. A request holds a connection only while PostgreSQL
// works on it, so a few a core keep the database busy while the API parses
// and encodes; more only queue inside PostgreSQL.
func DefaultMaxOpenConns() int {
	return max(4, 4*runtime.GOMAXPROCS(0))
}

// LoadPort reads only PORT, for commands that talk to a running server.
func LoadPort(getenv func(string) string) (int, error) {
	r := reader{getenv: getenv}
	port := r.int("PORT", 5000, 1, 65535)
	if len(r.errs) > 0 {
		return 0, fmt.Errorf("config: %w", errors.Join(r.errs...))
	}
	return port, nil
}

// MigrationsDir reads MIGRATIONS_DIR, where `migrate create` writes new
// files; it needs no database, so it stands apart from Load.
func MigrationsDir(getenv func(string) string) string {
	if dir := strings.TrimSpace(getenv("MIGRATIONS_DIR")); dir != "" {
		return dir
	}
	return "app/migrations"
}

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) lookup(name string) string {
	return strings.TrimSpace(r.getenv(name))
}

func (r *reader) required(name string) string {
	v := r.lookup(name)
	if v == "" {
		r.fail(name, "is required but not set")
	}
	return v
}

func (r *reader) int(name string, def, lo, hi int) int {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		r.fail(name, "must be a positive duration such as 5s or 250ms, got %q", v)
		return def
	}
	return d
}

// durationOrZero is duration that also accepts 0, which turns a step off.
func (r *reader) durationOrZero(name string, def time.Duration) time.Duration {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		r.fail(name, "must be a duration such as 2s, or 0 to skip it, got %q", v)
		return def
	}
	return d
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "must be one of debug, info, warn, error, got %q", v)
		return def
	}
	return l
}

// addr reads a host:port to listen on; "off" turns the listener off.
func (r *reader) addr(name, def string) string {
	v := r.lookup(name)
	switch v {
	case "":
		return def
	case "off":
		return ""
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, "must be host:port such as 127.0.0.1:9090 (or :9090 for every interface), or off, got %q", v)
		return def
	}
	return v
}

// prefixes reads a comma-separated list of CIDRs (10.0.0.0/8, fd00::/8);
// a bare address is its own /32 or /128.
func (r *reader) prefixes(name string) []netip.Prefix {
	v := r.lookup(name)
	if v == "" {
		return nil
	}
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				r.fail(name, "must be a comma-separated list of CIDRs such as 10.0.0.0/8,fd00::/8, got %q", item)
				return nil
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// tracing reads the OpenTelemetry variables this service honours.
func (r *reader) tracing() Tracing {
	t := Tracing{
		ServiceName:        r.lookup("OTEL_SERVICE_NAME"),
		ResourceAttributes: r.pairs("OTEL_RESOURCE_ATTRIBUTES"),
		Sampler:            r.oneOf("OTEL_TRACES_SAMPLER", Samplers[0], Samplers...),
		SamplerArg:         1,
	}
	if t.ServiceName == "" {
		t.ServiceName = t.ResourceAttributes["service.name"]
	}
	if t.ServiceName == "" {
		t.ServiceName = DefaultServiceName
	}
	// Only the traceidratio samplers use it, but a wrong one is refused anyway.
	if v := r.lookup("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			r.fail("OTEL_TRACES_SAMPLER_ARG", "must be a ratio from 0 to 1, got %q", v)
		} else if strings.HasSuffix(t.Sampler, "traceidratio") {
			t.SamplerArg = f
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := r.lookup(name); v != "" && v != "http/protobuf" {
			r.fail(name, "must be http/protobuf: this service exports OTLP over HTTP only, got %q", v)
		}
	}
	headers := r.pairs("OTEL_EXPORTER_OTLP_HEADERS")
	for k, v := range r.pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
		if headers == nil {
			headers = map[string]string{}
		}
		headers[k] = v
	}
	t.Headers = headers
	// The signal's own URL is used as it is; the base URL gets the
	// traces path, as the OTLP specification says.
	endpoint := r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		if base := r.url("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
			endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
	}
	exporter := r.oneOf("OTEL_TRACES_EXPORTER", "otlp", "otlp", "none")
	if exporter == "otlp" && !strings.EqualFold(r.lookup("OTEL_SDK_DISABLED"), "true") {
		t.Endpoint = endpoint
	}
	return t
}

// url reads an http or https URL.
func (r *reader) url(name string) string {
	v := r.lookup(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "must be an http:// or https:// URL such as http://localhost:4318, got %q", v)
		return ""
	}
	return v
}

// pairs reads the OpenTelemetry list form key1=value1,key2=value2, with
// percent-encoded values.
func (r *reader) pairs(name string) map[string]string {
	v := r.lookup(name)
	if v == "" {
		return nil
	}
	m := map[string]string{}
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if !ok || k == "" || err != nil {
			r.fail(name, "must be a list such as key1=value1,key2=value2, got %q", v)
			return nil
		}
		m[k] = dec
	}
	return m
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.lookup(name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}
