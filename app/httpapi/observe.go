package httpapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// headerTraceResponse returns the server span's trace context to the
// client, in the form of W3C Trace Context Level 2's traceresponse:
// 00-<trace id>-<server span id>-<flags>. A client that sent traceparent
// finds its trace id there; one that did not learns the trace to look up.
const headerTraceResponse = "traceresponse"

// unmatchedRoute names, in span names and metric labels, a request that
// no route matched: its raw path would give every typo a series of its own.
const unmatchedRoute = "unmatched"

// middlewareRoute names the routes of app.Use. Fiber v2 gives them the
// request's method and the path "/", like the route GET /, and keeps
// their use flag to itself: the name is what tells them apart.
const middlewareRoute = "middleware"

// routeOf returns the method and pattern of the route that served c, once
// c.Next() has returned. Both are Fiber's own strings, safe to keep after
// the request (fasthttp reuses the request's memory).
func routeOf(c *fiber.Ctx) (method, route string) {
	r := c.Route()
	if r.Name == middlewareRoute || r.Method == "" {
		// Only middleware ran (a 404 or 405), or Fiber answered itself.
		return strings.Clone(c.Method()), unmatchedRoute
	}
	return r.Method, r.Path
}

// traceRequests starts a server span for every request but the probes,
// and puts it in the request's context: the access log and the database
// spans find it there. The span is named "METHOD /route/:pattern" once
// routing has run.
//
// A trusted proxy's W3C traceparent is continued. Anyone else's starts a
// new trace, linked to theirs: a public client must not decide what is
// sampled (-00 would hide its requests, -01 force every one into the
// backend), nor graft its spans into our traces.
//
// Our own middleware rather than otelfiber, which also records OTel
// metrics that /metrics already has: see docs/observability.md.
func traceRequests(tp trace.TracerProvider, clients *clientAddrs) fiber.Handler {
	tracer := tp.Tracer("github.com/twitter-api/twitter-api/app/httpapi")
	prop := propagation.TraceContext{}
	return func(c *fiber.Ctx) error {
		if isProbe(c.Path()) {
			return c.Next() // polled every second: noise, not traffic
		}
		ctx := c.UserContext()
		opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.URLPath(strings.Clone(c.Path())))}
		if c.Get("traceparent") != "" {
			caller := prop.Extract(ctx, headerCarrier{&c.Request().Header})
			if clients.peerTrusted(c) {
				ctx = caller
			} else if sc := trace.SpanContextFromContext(caller); sc.IsValid() {
				opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: sc}))
			}
		}
		// The name is provisional: the route is known only after routing.
		ctx, span := tracer.Start(ctx, "HTTP", opts...)
		defer span.End()
		sc := span.SpanContext()
		c.Set(headerTraceResponse, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String())
		c.SetUserContext(ctx)
		err := c.Next() // answerErrors, below, has answered errors already
		method, route := routeOf(c)
		status := c.Response().StatusCode()
		span.SetName(method + " " + route)
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(method), semconv.HTTPRoute(route),
			semconv.HTTPResponseStatusCode(status))
		if status >= fiber.StatusInternalServerError {
			span.SetStatus(codes.Error, "")
		}
		return err
	}
}

// keepSpan returns ctx, a new context for c's work, carrying the span of
// c's current context when the request is traced: the database's spans
// then become the request's children.
func keepSpan(ctx context.Context, c *fiber.Ctx) context.Context {
	if span := trace.SpanFromContext(c.UserContext()); span.SpanContext().IsValid() {
		return trace.ContextWithSpan(ctx, span)
	}
	return ctx
}

// headerCarrier lets the propagator read and write fasthttp's headers.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (hc headerCarrier) Get(key string) string { return string(hc.h.Peek(key)) }
func (hc headerCarrier) Set(key, value string) { hc.h.Set(key, value) }
func (hc headerCarrier) Keys() []string {
	var keys []string
	for k := range hc.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// httpMetrics are the server's series on /metrics. The histogram's
// _count is the request count: one fact, written once.
type httpMetrics struct {
	duration *prometheus.HistogramVec
	inFlight prometheus.Gauge
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_request_duration_seconds",
			Help:    "Time from a request's arrival to its response, by method, route pattern and status; _count counts the requests.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_requests_in_flight",
			Help: "Requests being served now.",
		}),
	}
	reg.MustRegister(m.duration, m.inFlight)
	return m
}

// measureRequests observes every request's duration by route and status.
func measureRequests(m *httpMetrics) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		m.inFlight.Inc()
		defer m.inFlight.Dec()
		err := c.Next()
		method, route := routeOf(c)
		m.duration.WithLabelValues(method, route, statusText(c.Response().StatusCode())).
			Observe(time.Since(start).Seconds())
		return err
	}
}

// statusTexts holds the label of every status code, so a request does not
// format one.
var statusTexts = func() (s [600]string) {
	for i := range s {
		s[i] = strconv.Itoa(i)
	}
	return s
}()

func statusText(code int) string {
	if code >= 0 && code < len(statusTexts) {
		return statusTexts[code]
	}
	return strconv.Itoa(code)
}
