package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	"github.com/twitter-api/twitter-api/app/config"
	"github.com/twitter-api/twitter-api/app/store"
)

// traceFlushTimeout bounds the export of the last spans at exit, after the
// drain; should the platform's stop grace end first, only those are lost.
const traceFlushTimeout = 400 * time.Millisecond

// newTracerProvider exports spans over OTLP/HTTP, in batches, as the
// standard variables say; nil when tracing is off, and then nothing is
// traced at all. OTLP/HTTP rather than gRPC: the smaller binary, and every
// collector (Jaeger v2 among them) accepts it.
func newTracerProvider(t config.Tracing, log *slog.Logger) (*sdktrace.TracerProvider, error) {
	if !t.Enabled() {
		return nil, nil
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(t.Endpoint)}
	if len(t.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(t.Headers))
	}
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	attrs := make([]attribute.KeyValue, 0, len(t.ResourceAttributes)+2)
	for k, v := range t.ResourceAttributes {
		attrs = append(attrs, attribute.String(k, v))
	}
	attrs = append(attrs, semconv.ServiceName(t.ServiceName), semconv.ServiceVersion(version))
	// An export that fails (the collector is down) is reported, not fatal.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: export failed", "error", err.Error())
	}))
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL, attrs...)),
		sdktrace.WithSampler(sampler(t)),
	), nil
}

func sampler(t config.Tracing) sdktrace.Sampler {
	switch t.Sampler {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(t.SamplerArg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(t.SamplerArg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

// flushTraces exports what is still buffered, within traceFlushTimeout.
func flushTraces(tp *sdktrace.TracerProvider, log *slog.Logger) {
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), traceFlushTimeout)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		log.Warn("tracing: spans lost at exit", "error", err.Error())
	}
}

// newRegistry holds every series /metrics serves: the Go runtime, the
// process, and each pool's database/sql statistics, named by db_name.
func newRegistry(pools map[string]*store.DB) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for name, db := range pools {
		reg.MustRegister(db.StatsCollector(name))
	}
	return reg
}

// admin is the listener for operators: /metrics and /debug/pprof/. It is
// never the public port, so neither is reachable where the API is.
type admin struct {
	srv *http.Server
	ln  net.Listener
}

// startAdmin serves the admin listener on addr, with the public port's
// timeouts (cfg's HTTP_*_TIMEOUT): an idle or slow connection is closed
// here too.
func startAdmin(addr string, cfg config.Config, reg *prometheus.Registry, log *slog.Logger) (*admin, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	// pprof extends the write deadline by a profile's ?seconds= itself.
	a := &admin{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: cfg.HTTPReadTimeout, WriteTimeout: cfg.HTTPWriteTimeout, IdleTimeout: cfg.HTTPIdleTimeout}, ln: ln}
	go func() {
		if err := a.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server stopped", "error", err.Error())
		}
	}()
	log.Info("serving admin", "addr", ln.Addr().String(), "paths", "/metrics /debug/pprof/")
	return a, nil
}

// Close stops the admin listener; scrapes still running are cut.
func (a *admin) Close() {
	if a != nil {
		_ = a.srv.Close()
	}
}
