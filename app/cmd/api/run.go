package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"go.opentelemetry.io/otel/trace"

	"github.com/twitter-api/twitter-api/app/config"
	"github.com/twitter-api/twitter-api/app/migrations"
	"github.com/twitter-api/twitter-api/app/store"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// processStart is reported by /healthz, which tells one process from the next.
var processStart = time.Now()

const usage = `usage: api [command]

commands:
  serve                   serve the HTTP API (default)
  migrate up              apply pending migrations
  migrate down [--force]  roll back the newest applied migration; --force even if it drops rows
  migrate status          list migrations and whether they are applied
  migrate create NAME     write an empty up/down SQL pair into MIGRATIONS_DIR (default app/migrations)
  healthcheck             exit 0 when the local server answers GET /healthz
  version                 print the version

configuration comes from the environment; see .env.example`

// run wires the service; main calls it, and so do the end-to-end tests.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	ctx, stop := cancelOnSignal(ctx)
	defer stop()

	cmd, rest := "serve", []string(nil)
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stdout)
	case "migrate":
		return migrate(ctx, rest, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "version":
		_, err := fmt.Fprintln(stdout, version)
		return err
	case "help", "-h", "--help":
		_, err := fmt.Fprintln(stdout, usage)
		return err
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// cancelOnSignal returns a context that the first SIGINT or SIGTERM
// cancels. It stops catching them before it cancels, so that a second
// signal kills the process at once, even before the drain has begun;
// signal.NotifyContext would let a second signal through only once a stop
// called after the cancel had run. stop ends the catching too.
func cancelOnSignal(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	stop = func() {
		signal.Stop(signals)
		cancel()
	}
	go func() {
		select {
		case <-signals:
			stop()
		case <-ctx.Done():
		}
	}()
	return ctx, stop
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// setMemoryLimit sets GOMEMLIMIT to 90% of the container's memory limit
// (its cgroup's), unless GOMEMLIMIT is set: the garbage collector then works
// harder as the heap nears the limit instead of letting the kernel's OOM
// killer end the process. The same in Docker, Compose and Kubernetes, with
// nothing to keep in step in the manifests (AUTOMEMLIMIT=off or a ratio
// such as 0.8 overrides it).
func setMemoryLimit(log *slog.Logger) {
	limit, err := memlimit.Set()
	switch {
	case err != nil:
		log.Warn("GOMEMLIMIT not set from the container's memory limit", "error", err.Error())
	case limit < math.MaxInt64:
		log.Info("memory limit", "gomemlimit_bytes", limit)
	}
}

func openDB(cfg config.Config, tp trace.TracerProvider) (*store.DB, error) {
	return store.Open(cfg.DatabaseURL, store.Options{
		MaxOpenConns:    cfg.DBMaxOpenConns,
		MaxIdleConns:    cfg.DBMaxIdleConns,
		ConnMaxLifetime: cfg.DBConnMaxLifetime,
		ConnMaxIdleTime: cfg.DBConnMaxIdleTime,
		TracerProvider:  tp,
		ApplicationName: cfg.Tracing.ServiceName,
	})
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("migrate: missing subcommand: up, down, status or create NAME")
	}
	if args[0] == "create" {
		if len(args) != 2 {
			return errors.New("migrate create: want exactly one NAME")
		}
		paths, err := migrations.Create(config.MigrationsDir(getenv), args[1], time.Now())
		for _, p := range paths {
			fmt.Fprintln(stdout, "created", p)
		}
		return err
	}
	if args[0] != "up" && args[0] != "down" && args[0] != "status" {
		// Before the configuration: a typo should not be reported as a missing DATABASE_URL.
		return fmt.Errorf("migrate: unknown subcommand %q: want up, down, status or create NAME", args[0])
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	// The advisory lock holds one connection while migrations use another.
	cfg.DBMaxOpenConns = max(cfg.DBMaxOpenConns, 2)
	db, err := openDB(cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := db.Migrator(migrations.Options{
		LockTimeout:      cfg.MigrationLockTimeout,
		StatementTimeout: cfg.MigrationStatementTimeout,
	})
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		names, err := m.Up(ctx)
		report(stdout, "applied", names)
		return err
	case "down":
		force := slices.Equal(args[1:], []string{"--force"})
		if !force && len(args) > 1 {
			return fmt.Errorf("migrate down: unknown arguments %q: want nothing or --force", args[1:])
		}
		name, err := m.Down(ctx, migrations.DownOptions{Force: force})
		if name == "" {
			report(stdout, "rolled back", nil)
		} else {
			report(stdout, "rolled back", []string{name})
		}
		return err
	default: // status, the only subcommand left
		list, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATUS\tGROUP\tAPPLIED AT")
		for _, s := range list {
			if s.Applied {
				fmt.Fprintf(tw, "%s\tapplied\t%d\t%s\n", s.Name, s.GroupID, s.AppliedAt.UTC().Format(time.RFC3339))
			} else {
				fmt.Fprintf(tw, "%s\tpending\t-\t-\n", s.Name)
			}
		}
		return tw.Flush()
	}
}

func report(w io.Writer, verb string, names []string) {
	if len(names) == 0 {
		fmt.Fprintf(w, "nothing %s\n", verb)
		return
	}
	for _, n := range names {
		fmt.Fprintf(w, "%s %s\n", verb, n)
	}
}

// healthcheck lets a container without curl or a shell probe the server.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	port, err := config.LoadPort(getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: status %d", resp.StatusCode)
	}
	return nil
}
