package config_test

import (
	"log/slog"
	"net/netip"
	"os"
	"path"
	"regexp"
	"runtime"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/config"
	"github.com/twitter-api/twitter-api/app/httpapi"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

var _ = Describe("Load", func() {
	It("needs only DATABASE_URL and defaults the rest", func() {
		c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.DatabaseURL).To(Equal("postgres://x"))
		Expect(c.Port).To(Equal(5000))
		Expect(c.LogLevel).To(Equal(slog.LevelInfo))
		Expect(c.LogFormat).To(Equal("json"))
		Expect(c.DBMaxOpenConns).To(Equal(config.DefaultMaxOpenConns()))
		Expect(c.DBMaxIdleConns).To(Equal(c.DBMaxOpenConns), "idle equals open: no churn under load")
		Expect(c.DBConnMaxLifetime).To(Equal(30 * time.Minute))
		Expect(c.DBConnMaxIdleTime).To(Equal(5 * time.Minute))
		Expect(c.RequestTimeout).To(Equal(5 * time.Second))
		Expect(c.ShutdownDelay).To(Equal(2 * time.Second))
		Expect(c.ShutdownTimeout).To(Equal(6 * time.Second))
		Expect(c.ShutdownGrace).To(Equal(10*time.Second), "docker stop's default")
		Expect(c.ShutdownDelay + c.ShutdownTimeout + config.AbortGrace).To(BeNumerically("<", c.ShutdownGrace))
		Expect(c.MigrationLockTimeout).To(Equal(5 * time.Second))
		Expect(c.MigrationStatementTimeout).To(Equal(time.Minute))
		Expect(c.APIKeyOverlap).To(Equal(24 * time.Hour))
		Expect(c.MaxBodyBytes).To(Equal(16 << 10))
		Expect(c.RateLimitSignups).To(Equal(10))
		Expect(c.RateLimitAnonymousWrites).To(Equal(60))
		Expect(c.RateLimitKeyedWrites).To(Equal(httpapi.DefaultKeyedWriteLimit))
		Expect(c.RateLimitAccount).To(Equal(httpapi.DefaultAccountLimit))
		Expect(c.RateWindow).To(Equal(time.Minute))
		Expect(c.HTTPIdleTimeout).To(Equal(30 * time.Second))
		Expect(c.MaxConns).To(Equal(httpapi.DefaultMaxConns))
		Expect(c.MaxConnsPerIP).To(Equal(httpapi.DefaultMaxConnsPerIP))
		Expect(c.TrustedProxies).To(BeEmpty(), "no proxy is trusted unless named")
		Expect(c.AdminAddr).To(Equal("127.0.0.1:9090"))
		Expect(c.Tracing.Enabled()).To(BeFalse(), "no endpoint: tracing is off")
		Expect(c.Tracing.ServiceName).To(Equal(config.DefaultServiceName))
		Expect(c.Tracing.Sampler).To(Equal("parentbased_always_on"))
	})

	It("names the service after the last element of its module path", func() {
		mod, err := os.ReadFile("../../go.mod")
		Expect(err).NotTo(HaveOccurred())
		m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(mod)
		Expect(m).To(HaveLen(2))
		module := string(m[1])
		Expect(config.DefaultServiceName).To(Equal(path.Base(module)))
	})

	It("reads every variable", func() {
		c, err := config.Load(env(map[string]string{
			"DATABASE_URL": "postgres://y", "PORT": "8080", "LOG_LEVEL": "debug", "LOG_FORMAT": "text",
			"DB_MAX_OPEN_CONNS": "20", "DB_MAX_IDLE_CONNS": "20", "DB_CONN_MAX_LIFETIME": "1h",
			"DB_CONN_MAX_IDLE_TIME": "90s",
			"REQUEST_TIMEOUT":       "250ms", "HTTP_READ_TIMEOUT": "1s", "HTTP_WRITE_TIMEOUT": "2s",
			"HTTP_IDLE_TIMEOUT": "3s", "SHUTDOWN_DELAY": "500ms", "SHUTDOWN_TIMEOUT": "4s", "SHUTDOWN_GRACE": "6s",
			"MIGRATION_LOCK_TIMEOUT": "3s", "MIGRATION_STATEMENT_TIMEOUT": "2m", "API_KEY_OVERLAP": "1h",
			"MAX_BODY_BYTES": "4096", "RATE_LIMIT_SIGNUPS": "0", "RATE_LIMIT_ANONYMOUS_WRITES": "500",
			"RATE_WINDOW": "10s", "RATE_LIMIT_KEYED_WRITES": "7", "RATE_LIMIT_ACCOUNT": "0",
			"MAX_CONNS": "100", "MAX_CONNS_PER_IP": "0", "TRUSTED_PROXIES": " 10.0.0.0/8, 192.168.1.7 ,fd00::1/8",
		}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(Equal(config.Config{
			DatabaseURL: "postgres://y", Port: 8080, LogLevel: slog.LevelDebug, LogFormat: "text",
			DBMaxOpenConns: 20, DBMaxIdleConns: 20, DBConnMaxLifetime: time.Hour, DBConnMaxIdleTime: 90 * time.Second,
			RequestTimeout: 250 * time.Millisecond, HTTPReadTimeout: time.Second, HTTPWriteTimeout: 2 * time.Second,
			HTTPIdleTimeout: 3 * time.Second, ShutdownDelay: 500 * time.Millisecond, ShutdownTimeout: 4 * time.Second,
			ShutdownGrace:        6 * time.Second,
			MigrationLockTimeout: 3 * time.Second, MigrationStatementTimeout: 2 * time.Minute,
			APIKeyOverlap: time.Hour, MaxBodyBytes: 4096,
			RateLimitSignups: 0, RateLimitAnonymousWrites: 500, RateWindow: 10 * time.Second,
			RateLimitKeyedWrites: 7, RateLimitAccount: 0, MaxConns: 100, MaxConnsPerIP: 0,
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
				netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/8")},
			AdminAddr: "127.0.0.1:9090",
			Tracing: config.Tracing{ServiceName: config.DefaultServiceName, Sampler: "parentbased_always_on",
				SamplerArg: 1},
		}))
	})

	It("names what is missing", func() {
		_, err := config.Load(env(nil))
		Expect(err).To(MatchError(ContainSubstring("DATABASE_URL is required")))
	})

	It("names every invalid variable at once", func() {
		_, err := config.Load(env(map[string]string{
			"PORT": "http", "LOG_LEVEL": "loud", "REQUEST_TIMEOUT": "5", "LOG_FORMAT": "xml",
			"SHUTDOWN_DELAY": "-1s", "MIGRATION_LOCK_TIMEOUT": "0s",
		}))
		Expect(err).To(HaveOccurred())
		for _, name := range []string{"DATABASE_URL", "PORT", "LOG_LEVEL", "REQUEST_TIMEOUT", "LOG_FORMAT", "SHUTDOWN_DELAY", "MIGRATION_LOCK_TIMEOUT"} {
			Expect(err.Error()).To(ContainSubstring(name))
		}
	})

	DescribeTable("rejects out-of-range values",
		func(name, value string) {
			_, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", name: value}))
			Expect(err).To(MatchError(ContainSubstring(name)))
		},
		Entry("port 0", "PORT", "0"),
		Entry("port 70000", "PORT", "70000"),
		Entry("a negative duration", "SHUTDOWN_TIMEOUT", "-1s"),
		Entry("no connections", "DB_MAX_OPEN_CONNS", "0"),
		Entry("more idle than open connections", "DB_MAX_IDLE_CONNS", "1001"),
		Entry("a zero idle time", "DB_CONN_MAX_IDLE_TIME", "0s"),
		Entry("a zero request budget", "REQUEST_TIMEOUT", "0s"),
		Entry("a drain longer than the stop grace", "SHUTDOWN_TIMEOUT", "9s"),
		Entry("a delay that pushes the drain past the stop grace", "SHUTDOWN_DELAY", "4s"),
		Entry("a stop grace shorter than the delay and the drain", "SHUTDOWN_GRACE", "8s"),
		Entry("a zero stop grace", "SHUTDOWN_GRACE", "0s"),
		Entry("a zero key overlap", "API_KEY_OVERLAP", "0s"),
		Entry("a key overlap over 30 days", "API_KEY_OVERLAP", "721h"),
		Entry("a body limit below 1 KiB", "MAX_BODY_BYTES", "1023"),
		Entry("a body limit over 1 MiB", "MAX_BODY_BYTES", "1048577"),
		Entry("a negative rate limit", "RATE_LIMIT_SIGNUPS", "-1"),
		Entry("a zero rate window", "RATE_WINDOW", "0s"),
		Entry("a negative per-user write limit", "RATE_LIMIT_KEYED_WRITES", "-1"),
		Entry("no HTTP connections", "MAX_CONNS", "0"),
		Entry("a proxy that is not a CIDR", "TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"),
		Entry("a CIDR with a bad mask", "TRUSTED_PROXIES", "10.0.0.0/33"),
	)

	It("takes longer delays and drains when SHUTDOWN_GRACE grants the time, and checks them against it", func() {
		vars := map[string]string{"DATABASE_URL": "postgres://x", "SHUTDOWN_DELAY": "10s", "SHUTDOWN_TIMEOUT": "15s"}
		_, err := config.Load(env(vars))
		Expect(err).To(MatchError(ContainSubstring("must stay below SHUTDOWN_GRACE (10s)")))
		vars["SHUTDOWN_GRACE"] = "30s"
		c, err := config.Load(env(vars))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ShutdownGrace).To(Equal(30 * time.Second))
		vars["SHUTDOWN_GRACE"] = "25500ms" // 10 s + 15 s + the 0.5 s abort grace: no margin left
		_, err = config.Load(env(vars))
		Expect(err).To(MatchError(ContainSubstring("25.5s")))
	})

	It("accepts SHUTDOWN_DELAY=0, for a dev server that nothing balances", func() {
		c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "SHUTDOWN_DELAY": "0"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.ShutdownDelay).To(BeZero())
	})

	It("follows a smaller DB_MAX_OPEN_CONNS with the idle default, and refuses more idle than open", func() {
		c, err := config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "DB_MAX_OPEN_CONNS": "3"}))
		Expect(err).NotTo(HaveOccurred())
		Expect(c.DBMaxIdleConns).To(Equal(3))
		_, err = config.Load(env(map[string]string{"DATABASE_URL": "postgres://x", "DB_MAX_OPEN_CONNS": "3", "DB_MAX_IDLE_CONNS": "4"}))
		Expect(err).To(MatchError(ContainSubstring("DB_MAX_IDLE_CONNS must not exceed DB_MAX_OPEN_CONNS (3)")))
	})

	It("sizes the pool by the CPUs: four a CPU, at least 4", func() {
		Expect(config.DefaultMaxOpenConns()).To(Equal(max(4, 4*runtime.GOMAXPROCS(0))))
	})
})

var _ = Describe("the admin listener and tracing", func() {
	load := func(kv map[string]string) (config.Config, error) {
		kv["DATABASE_URL"] = "postgres://x"
		return config.Load(env(kv))
	}

	It("reads ADMIN_ADDR, and off turns the listener off", func() {
		c, err := load(map[string]string{"ADMIN_ADDR": "0.0.0.0:9100"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.AdminAddr).To(Equal("0.0.0.0:9100"))
		c, err = load(map[string]string{"ADMIN_ADDR": "off"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.AdminAddr).To(BeEmpty())
		_, err = load(map[string]string{"ADMIN_ADDR": "9090"})
		Expect(err).To(MatchError(ContainSubstring("ADMIN_ADDR must be host:port")))
	})

	It("exports to the base endpoint's traces path, or to the traces endpoint as it is", func() {
		c, err := load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318/"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Tracing.Enabled()).To(BeTrue())
		Expect(c.Tracing.Endpoint).To(Equal("http://jaeger:4318/v1/traces"))
		c, err = load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318",
			"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example.com/otlp/traces"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Tracing.Endpoint).To(Equal("https://collector.example.com/otlp/traces"))
	})

	It("reads the service name, resource attributes, headers and sampler", func() {
		c, err := load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318",
			"OTEL_SERVICE_NAME": "notes", "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod,team=a%20b",
			"OTEL_EXPORTER_OTLP_HEADERS": "x-key=1,x-other=2", "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-key=3",
			"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Tracing).To(Equal(config.Tracing{Endpoint: "http://c:4318/v1/traces",
			Headers: map[string]string{"x-key": "3", "x-other": "2"}, ServiceName: "notes",
			ResourceAttributes: map[string]string{"deployment.environment": "prod", "team": "a b"},
			Sampler:            "parentbased_traceidratio", SamplerArg: 0.25}))
	})

	DescribeTable("stays off when the standard variables say so",
		func(name, value string) {
			c, err := load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", name: value})
			Expect(err).NotTo(HaveOccurred())
			Expect(c.Tracing.Enabled()).To(BeFalse())
		},
		Entry("the SDK disabled", "OTEL_SDK_DISABLED", "true"),
		Entry("no exporter", "OTEL_TRACES_EXPORTER", "none"),
	)

	DescribeTable("names what it cannot honour",
		func(name, value string) {
			_, err := load(map[string]string{name: value})
			Expect(err).To(MatchError(ContainSubstring(name)))
		},
		Entry("gRPC", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
		Entry("an endpoint that is no URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4318"),
		Entry("an unknown sampler", "OTEL_TRACES_SAMPLER", "sometimes"),
		Entry("a ratio over 1", "OTEL_TRACES_SAMPLER_ARG", "2"),
		Entry("an unknown exporter", "OTEL_TRACES_EXPORTER", "zipkin"),
		Entry("a malformed attribute list", "OTEL_RESOURCE_ATTRIBUTES", "novalue"),
	)
})

var _ = Describe("LoadPort", func() {
	It("needs no database", func() {
		Expect(config.LoadPort(env(map[string]string{"PORT": "5001"}))).To(Equal(5001))
		Expect(config.LoadPort(env(nil))).To(Equal(5000))
	})
	It("names a bad PORT", func() {
		_, err := config.LoadPort(env(map[string]string{"PORT": "x"}))
		Expect(err).To(MatchError(ContainSubstring("PORT")))
	})
})

var _ = Describe("MigrationsDir", func() {
	It("defaults to the source folder and honours MIGRATIONS_DIR", func() {
		Expect(config.MigrationsDir(env(nil))).To(Equal("app/migrations"))
		Expect(config.MigrationsDir(env(map[string]string{"MIGRATIONS_DIR": " db/migrations "}))).To(Equal("db/migrations"))
	})
})
