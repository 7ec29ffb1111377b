// Package httpapi is the REST API: Fiber handlers over the domain, problem
// JSON errors, and the OpenAPI annotations swag turns into docs/.
//
//	@title						twitter-api
//	@version					1.0
//	@description				A Twitter-like REST API: tweets, users and API keys.
//	@description				Errors are RFC 9457 problem details (application/problem+json).
//	@BasePath					/
//	@accept						json
//	@produce					json
//	@securityDefinitions.apikey	APIKey
//	@in							header
//	@name						X-API-Key
//	@description				The key returned once by POST /users, or by POST /users/{id}/keys, which replaces it. Optional when creating a tweet; required to change or delete a tweet that has an author, and to manage one's account.
package httpapi

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// DefaultRequestTimeout is a request's budget when Deps sets none.
const DefaultRequestTimeout = 5 * time.Second

// Readiness reports whether the service should get traffic; its error says
// why not. It must not queue behind requests for the database: a saturated
// pool would otherwise take every replica out of rotation at once.
type Readiness interface {
	Ready(ctx context.Context) error
}

// Deps are the API's collaborators and settings.
type Deps struct {
	// Services are the domain's, one a resource: store's DB.Services().
	twitter.Services
	// Ready backs /readyz: readiness.Checker over a pool of its own.
	Ready     Readiness
	Logger    *slog.Logger
	Version   string
	StartedAt time.Time

	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// MaxConns bounds the connections served at once (DefaultMaxConns
	// when zero), MaxConnsPerIP those from one TCP peer (0: no bound).
	// Beyond them a connection gets 503 or 429 and is closed, so a flood
	// of idle or slow connections costs bounded memory.
	MaxConns      int
	MaxConnsPerIP int
	// TrustedProxies are the peers whose X-Forwarded-For names the client
	// (to the limits, the access log) and whose traceparent is continued;
	// any other peer is the client itself and starts a new trace.
	TrustedProxies []netip.Prefix

	// RequestTimeout is each request's whole budget, database work included.
	RequestTimeout time.Duration
	// Context is the parent of every request's context; cancelling it
	// aborts the database work of every request still running.
	Context context.Context
	// Draining is closed when the process starts to shut down: /readyz
	// then answers 503 so load balancers stop sending traffic, and every
	// response asks the client to close its connection.
	Draining <-chan struct{}

	// SignupLimit is how many POST /users one client (by address) may send
	// a RateWindow; AnonymousWriteLimit how many writes without X-API-Key
	// (POST, PATCH and DELETE of tweets). 0 turns a limit off. They are
	// counted in memory, by each replica on its own.
	SignupLimit         int
	AnonymousWriteLimit int
	// KeyedWriteLimit is how many writes of tweets one user (by the API
	// key's owner) may send a RateWindow; AccountLimit how many rotations,
	// revocations and deletions of its account. 0 turns a limit off; each
	// replica counts on its own.
	KeyedWriteLimit int
	AccountLimit    int
	// RateWindow is the limits' window (DefaultRateWindow when zero).
	RateWindow time.Duration

	// MaxBodyBytes bounds each JSON request body (DefaultMaxBodyBytes
	// when zero, at most LargestMaxBodyBytes).
	MaxBodyBytes int

	// APIKeyOverlap is how long a user's previous keys keep working after
	// POST /users/{id}/keys, unless it revokes them at once.
	APIKeyOverlap time.Duration

	// TracerProvider, when set, gives every request a server span that
	// continues the caller's traceparent; nil traces nothing.
	TracerProvider trace.TracerProvider
	// Metrics, when set, gets the request series: latency by route and
	// status, and requests in flight.
	Metrics prometheus.Registerer
}

// DefaultMaxConns is MaxConns when Deps sets none: that many open
// connections fit a 256 MiB container (docs/reliability-and-security.md,
// "Connections and memory", measures what one holds).
const DefaultMaxConns = 4096

// DefaultMaxConnsPerIP is MAX_CONNS_PER_IP when unset: one address (a
// client, or a proxy that is not trusted) gets a quarter of the
// connections, so it cannot take them all. Behind a proxy, every
// connection is the proxy's: raise it to the proxy's own bound, or 0.
const DefaultMaxConnsPerIP = DefaultMaxConns / 4

// DefaultAPIKeyOverlap is APIKeyOverlap when Deps sets none.
const DefaultAPIKeyOverlap = 24 * time.Hour

// New returns the Fiber app serving the whole API.
func New(d Deps) *fiber.App {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.RequestTimeout <= 0 {
		d.RequestTimeout = DefaultRequestTimeout
	}
	if d.Context == nil {
		d.Context = context.Background()
	}
	if d.Version == "" {
		d.Version = "unknown" // /healthz documents a version that is never empty
	}
	if d.APIKeyOverlap <= 0 {
		d.APIKeyOverlap = DefaultAPIKeyOverlap
	}
	if d.RateWindow <= 0 {
		d.RateWindow = DefaultRateWindow
	}
	if d.MaxBodyBytes <= 0 {
		d.MaxBodyBytes = DefaultMaxBodyBytes
	}
	d.MaxBodyBytes = min(d.MaxBodyBytes, LargestMaxBodyBytes)
	if d.MaxConns <= 0 {
		d.MaxConns = DefaultMaxConns
	}
	clients := newClientAddrs(d.TrustedProxies)
	routes := &routeTable{}
	errHandler := errorHandler(d.Logger, routes)
	app := fiber.New(fiber.Config{
		ErrorHandler: errHandler,
		JSONEncoder:  encodeJSON,
		JSONDecoder:  decodeJSONValue,
		// Bodies are streamed: the routes that take one read it within the
		// body budget instead of fasthttp buffering each in full before any
		// handler runs. Multipart forms are not parsed ahead either: no
		// route takes one, and they are refused unread (415).
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    serverBodyLimit,
		ReadTimeout:                  d.ReadTimeout,
		WriteTimeout:                 d.WriteTimeout,
		IdleTimeout:                  d.IdleTimeout,
		Concurrency:                  d.MaxConns,
		CaseSensitive:                true,
		DisableStartupMessage:        true,
	})
	// fasthttp's own errors (a malformed request line, no Host) would
	// otherwise quote the request's bytes, API key included.
	app.Server().SecureErrorLogMessage = true
	// Fiber's config has no field for it.
	app.Server().MaxConnsPerIP = d.MaxConnsPerIP
	bodies := &bodyReader{parent: d.Context, timeout: d.RequestTimeout,
		budget: semaphore.NewWeighted(BodyBudgetBytes), discard: serverBodyLimit}
	// The body is read first: the request's budget covers its work
	// (authentication and its queries), not the client's upload,
	// which HTTP_READ_TIMEOUT bounds.
	// Metrics and the span wrap the access log, which answers errors: they
	// see the status the client gets. Each is installed only when asked
	// for, so turned off it costs nothing.
	app.Use(requestID())
	if d.Metrics != nil {
		app.Use(measureRequests(newHTTPMetrics(d.Metrics)))
	}
	if d.TracerProvider != nil {
		app.Use(traceRequests(d.TracerProvider, clients))
	}
	app.Use(closeWhenDraining(d.Draining), accessLog(d.Logger, clients), answerErrors(errHandler),
		recoverPanics(d.Logger), bodies.refuseUnexpected(), requestContext(d.Context, d.RequestTimeout)).
		Name(middlewareRoute) // names every app.Use route, none of addRoutes'
	addRoutes(app, d, bodies, clients)
	routes.load(app)
	refuseUnknownMethods(app, errHandler)
	sendNoSniff(app)
	return app
}
