// Package config reads the service's settings from the environment, once.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"time"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/migrations"
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

// DefaultPort is PORT when unset.
const DefaultPort = 5000

// minMaxBodyBytes is the smallest MAX_BODY_BYTES: below it a legal tweet
// would not fit.
const minMaxBodyBytes = 1 << 10

// DefaultAdminAddr is ADMIN_ADDR when unset: loopback, so only the host
// itself (or, in a container, the container) reaches metrics and profiles.
const DefaultAdminAddr = "127.0.0.1:9090"

// The shutdown budget: SHUTDOWN_DELAY + SHUTDOWN_TIMEOUT + AbortGrace must
// stay below SHUTDOWN_GRACE, the platform's grace before SIGKILL, and Load
// refuses a configuration where it does not. The defaults fit the grace of
// Docker and compose; docs/reliability-and-security.md (the termination
// contract) adds them up.
const (
	DefaultShutdownDelay   = 2 * time.Second
	DefaultShutdownTimeout = 6 * time.Second
	// AbortGrace is how long requests cancelled at the end of the drain
	// get to answer (503) before the process exits.
	AbortGrace = 500 * time.Millisecond
	// DefaultShutdownGrace is SHUTDOWN_GRACE when unset: the stop grace
	// period of Docker and compose.
	DefaultShutdownGrace = 10 * time.Second
)

// MaxAPIKeyOverlap bounds API_KEY_OVERLAP: a replaced key must end.
const MaxAPIKeyOverlap = 30 * 24 * time.Hour

// Load builds a Config from getenv (os.Getenv in production). It reports
// every missing or invalid variable by name, not just the first.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		DatabaseURL: r.required("DATABASE_URL"),
		Port:        r.int("PORT", DefaultPort, 1, 65535),
		LogLevel:    r.level("LOG_LEVEL", slog.LevelInfo),
		LogFormat:   r.oneOf("LOG_FORMAT", "json", "json", "text"),

		DBMaxOpenConns:    r.int("DB_MAX_OPEN_CONNS", DefaultMaxOpenConns(), 1, 1000),
		DBConnMaxLifetime: r.duration("DB_CONN_MAX_LIFETIME", 30*time.Minute),
		DBConnMaxIdleTime: r.duration("DB_CONN_MAX_IDLE_TIME", 5*time.Minute),

		RequestTimeout:   r.duration("REQUEST_TIMEOUT", httpapi.DefaultRequestTimeout),
		HTTPReadTimeout:  r.duration("HTTP_READ_TIMEOUT", 10*time.Second),
		HTTPWriteTimeout: r.duration("HTTP_WRITE_TIMEOUT", 10*time.Second),
		HTTPIdleTimeout:  r.duration("HTTP_IDLE_TIMEOUT", 30*time.Second),
		MaxConns:         r.int("MAX_CONNS", httpapi.DefaultMaxConns, 1, 1_000_000),
		MaxConnsPerIP:    r.int("MAX_CONNS_PER_IP", httpapi.DefaultMaxConnsPerIP, 0, 1_000_000),
		TrustedProxies:   r.prefixes("TRUSTED_PROXIES"),
		ShutdownDelay:    r.durationOrZero("SHUTDOWN_DELAY", DefaultShutdownDelay),
		ShutdownTimeout:  r.duration("SHUTDOWN_TIMEOUT", DefaultShutdownTimeout),
		ShutdownGrace:    r.duration("SHUTDOWN_GRACE", DefaultShutdownGrace),

		MigrationLockTimeout:      r.duration("MIGRATION_LOCK_TIMEOUT", migrations.DefaultLockTimeout),
		MigrationStatementTimeout: r.duration("MIGRATION_STATEMENT_TIMEOUT", migrations.DefaultStatementTimeout),

		APIKeyOverlap: r.duration("API_KEY_OVERLAP", httpapi.DefaultAPIKeyOverlap),

		MaxBodyBytes: r.int("MAX_BODY_BYTES", httpapi.DefaultMaxBodyBytes, minMaxBodyBytes, httpapi.LargestMaxBodyBytes),

		RateLimitSignups:         r.int("RATE_LIMIT_SIGNUPS", httpapi.DefaultSignupLimit, 0, 1_000_000),
		RateLimitAnonymousWrites: r.int("RATE_LIMIT_ANONYMOUS_WRITES", httpapi.DefaultAnonymousWriteLimit, 0, 1_000_000),
		RateLimitKeyedWrites:     r.int("RATE_LIMIT_KEYED_WRITES", httpapi.DefaultKeyedWriteLimit, 0, 1_000_000),
		RateLimitAccount:         r.int("RATE_LIMIT_ACCOUNT", httpapi.DefaultAccountLimit, 0, 1_000_000),
		RateWindow:               r.duration("RATE_WINDOW", httpapi.DefaultRateWindow),

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
	port := r.int("PORT", DefaultPort, 1, 65535)
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
