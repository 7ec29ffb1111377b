package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/twitter-api/twitter-api/app/config"
	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/readiness"
	"github.com/twitter-api/twitter-api/app/store"
)

// serve runs the API until ctx ends, then drains it: build, listen, serve,
// drain.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logOut := newLogWriter(stdout)
	defer logOut.Close() // last: every line logged below is written
	log := newLogger(cfg, logOut)
	setMemoryLimit(log)

	// Requests descend from work, not from ctx: a signal must not cancel
	// them, only the end of the drain budget does.
	work, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	svc, err := build(work, cfg, log, ctx.Done())
	if err != nil {
		return err
	}
	defer svc.close()
	defer abort() // before svc.close: the sweeps stop before their database closes

	ln, err := listen(cfg.Port)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- svc.app.Listener(ln) }()
	startSweeps(work, svc.db, log)
	log.Info("serving", "addr", ln.Addr().String(), "version", version)
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return drain(ctx, cfg, log, svc.app, ln, served, abort)
}

// service is the API built from its configuration, with what closes it.
type service struct {
	app     *fiber.App
	db      *store.DB
	closers []func() // closed last to first
}

func (s *service) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// build opens what the API needs (tracing, the database pools, the admin
// listener) and the app over them. Its requests descend from work;
// draining closes when the process starts to shut down.
func build(work context.Context, cfg config.Config, log *slog.Logger, draining <-chan struct{}) (_ *service, err error) {
	svc := &service{}
	defer func() {
		if err != nil {
			svc.close()
		}
	}()
	tp, err := newTracerProvider(cfg.Tracing, log)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, func() { flushTraces(tp, log) }) // after the drain: the last requests' spans too
	// A nil provider must stay an untyped nil: it turns tracing off.
	var traces trace.TracerProvider
	if tp != nil {
		traces = tp
		log.Info("tracing", "endpoint", cfg.Tracing.Endpoint, "service", cfg.Tracing.ServiceName,
			"sampler", cfg.Tracing.Sampler)
	}
	db, err := openDB(cfg, traces)
	if err != nil {
		return nil, err
	}
	svc.db = db
	svc.closers = append(svc.closers, func() { _ = db.Close() })
	// Readiness checks get a connection of their own: behind a saturated
	// request pool they would fail on every replica at once.
	probeDB, err := store.Open(cfg.DatabaseURL, store.Options{
		MaxOpenConns: 1, MaxIdleConns: 1, ConnMaxLifetime: cfg.DBConnMaxLifetime,
		ApplicationName: cfg.Tracing.ServiceName,
	})
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, func() { _ = probeDB.Close() })
	ready, err := readiness.New(probeDB, 0)
	if err != nil {
		return nil, err
	}
	metrics := newRegistry(map[string]*store.DB{"api": db, "readiness": probeDB})
	adm, err := startAdmin(cfg.AdminAddr, cfg, metrics, log)
	if err != nil {
		return nil, err
	}
	svc.closers = append(svc.closers, adm.Close) // after the drain: scrapes see it

	svc.app = httpapi.New(httpapi.Deps{
		Services:       db.Services(),
		Ready:          ready,
		Logger:         log,
		Version:        version,
		StartedAt:      processStart,
		ReadTimeout:    cfg.HTTPReadTimeout,
		WriteTimeout:   cfg.HTTPWriteTimeout,
		IdleTimeout:    cfg.HTTPIdleTimeout,
		MaxConns:       cfg.MaxConns,
		MaxConnsPerIP:  cfg.MaxConnsPerIP,
		TrustedProxies: cfg.TrustedProxies,
		RequestTimeout: cfg.RequestTimeout,
		Context:        work,
		Draining:       draining,
		APIKeyOverlap:  cfg.APIKeyOverlap,
		MaxBodyBytes:   cfg.MaxBodyBytes,

		SignupLimit:         cfg.RateLimitSignups,
		AnonymousWriteLimit: cfg.RateLimitAnonymousWrites,
		KeyedWriteLimit:     cfg.RateLimitKeyedWrites,
		AccountLimit:        cfg.RateLimitAccount,
		RateWindow:          cfg.RateWindow,

		TracerProvider: traces,
		Metrics:        metrics,
	})
	return svc, nil
}

// listen opens the public port here, not in Fiber, so a taken port is
// reported before anything is served.
func listen(port int) (*trackingListener, error) {
	tcp, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	return newTrackingListener(tcp), nil
}

// startSweeps runs the database's background work until work ends.
func startSweeps(work context.Context, db *store.DB, log *slog.Logger) {
	// Numbers tweets that no create of this process numbered: the previous
	// version's during a rolling update, a create's whose numbering failed.
	go db.SweepPositions(work, time.Second, func(err error) {
		log.Warn("numbering unlisted tweets failed; retrying in a second", "error", err.Error())
	})
	go db.SweepIdempotencyKeys(work, time.Minute, func(err error) {
		log.Warn("deleting expired idempotency keys failed; retrying in a minute", "error", err.Error())
	})
}

// drain keeps the termination contract (docs/reliability-and-security.md):
// /readyz has answered 503 since ctx ended and every response asks for its
// connection to be closed; serve on for ShutdownDelay so load balancers
// see it, drain for at most ShutdownTimeout, then cancel whatever still
// runs (abort) and give it AbortGrace to answer.
func drain(ctx context.Context, cfg config.Config, log *slog.Logger, app *fiber.App, ln *trackingListener,
	served <-chan error, abort context.CancelFunc) error {
	log.Info("shutting down: unready now, serving until the delay ends, then draining",
		"delay", cfg.ShutdownDelay.String(), "timeout", cfg.ShutdownTimeout.String(), "grace", cfg.ShutdownGrace.String())
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-time.After(cfg.ShutdownDelay):
	}
	log.Info("draining: no new connections", "open", ln.open.Load())
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := shutdown(sctx, app, ln); err != nil {
		left := ln.open.Load()
		abort()
		// The aborted requests answer 503 at once; give them a moment to.
		waitClosed(ln, config.AbortGrace)
		log.Error("drain budget spent: cancelled the requests still running", "connections", left, "error", err.Error())
		return err
	}
	log.Info("stopped")
	return nil
}
