package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/semaphore"

	"github.com/twitter-api/twitter-api/app/twitter"
)

const headerRequestID = "X-Request-ID"

type requestIDKey struct{}

// actorIDKey holds the id of the user a request acts for, once known.
type actorIDKey struct{}

// A client's request id is kept only when it is short and plain, so it
// cannot inject anything into logs or headers.
var clientRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// requestID tags each request with the client's X-Request-ID or a new one,
// and echoes it in the response.
func requestID() fiber.Handler {
	return func(c *fiber.Ctx) error {
		id := c.Get(headerRequestID)
		if clientRequestID.MatchString(id) {
			id = strings.Clone(id) // Fiber reuses the header's memory after the request
		} else {
			id = newRequestID()
		}
		c.Locals(requestIDKey{}, id)
		c.Set(headerRequestID, id)
		return c.Next()
	}
}

// accessLog writes one JSON line a request. It runs the error handler
// itself so the status it logs is the one the client gets.
func accessLog(log *slog.Logger, errHandler fiber.ErrorHandler, clients *clientAddrs) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := errHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		status := c.Response().StatusCode()
		level := slog.LevelInfo
		switch {
		case status == fiber.StatusServiceUnavailable:
			level = slog.LevelWarn // an outage, not a bug; the error handler logged the cause
		case status >= fiber.StatusInternalServerError:
			level = slog.LevelError
		case isProbe(c.Path()) && status < fiber.StatusBadRequest:
			// Healthchecks poll every second or so; their successes would bury the real traffic.
			level = slog.LevelDebug
		}
		id, _ := c.Locals(requestIDKey{}).(string)
		// Who, so abuse can be traced: the client's address and the acting
		// user's id (0 when anonymous), never the key. One literal list, so
		// the attributes stay off the heap.
		uid, _ := c.Locals(actorIDKey{}).(int64)
		// The line names its trace, to go from a log line to its spans.
		// Untraced, both stay empty Attrs, which handlers leave out.
		ctx := c.UserContext()
		var traceID, spanID slog.Attr
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			traceID, spanID = slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String())
		}
		log.LogAttrs(ctx, level, "request",
			slog.String("request_id", id),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", len(c.Response().Body())),
			slog.String("remote", clients.String(c)),
			slog.Int64("user_id", uid),
			traceID, spanID,
		)
		return nil
	}
}

// closeWhenDraining asks every client to close its connection once the
// process is shutting down, so a balancer or keep-alive client opens its
// next connection, to another instance, instead of sending a request on one
// this process is about to close.
func closeWhenDraining(draining <-chan struct{}) fiber.Handler {
	return func(c *fiber.Ctx) error {
		select {
		case <-draining:
			c.Response().SetConnectionClose()
		default:
		}
		return c.Next()
	}
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

// recoverPanics turns a panic into a 500 problem instead of a dead process.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				id, _ := c.Locals(requestIDKey{}).(string)
				log.Error("panic", "request_id", id, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// requestContext gives each request one context with one deadline, timeout
// after it starts: authentication and every query share it. It descends from parent, so cancelling parent aborts the request.
func requestContext(parent context.Context, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(parent, timeout)
		defer cancel()
		c.SetUserContext(keepSpan(ctx, c))
		return c.Next()
	}
}

// bodyReader reads request bodies, on the routes that take one, within a
// budget shared by every request: a body waits at most wait for room
// (under parent), then gets 503. Bodies over a route's limit are read and
// discarded up to discard bytes so the client sees the 413; beyond that
// the connection is closed after it. Bodies are never buffered before a
// route has checked their headers: a multipart upload or a body on a GET
// costs no memory.
type bodyReader struct {
	parent  context.Context
	wait    time.Duration
	budget  *semaphore.Weighted
	discard int
}

// json is the first handler of a route whose body is a JSON object of at
// most limit bytes: a body not declared as uncompressed JSON (multipart and
// forms included) is refused unread, with 415; then the body is read.
func (b *bodyReader) json(limit int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := checkJSONHeaders(c); err != nil {
			return err
		}
		release, err := b.read(c, limit)
		if err != nil {
			return err
		}
		defer release() // the handlers use the body until they return
		// The request's budget covers its work, not the client's upload
		// (HTTP_READ_TIMEOUT bounds that): it starts again now that the
		// body is in, before any work has begun.
		ctx, cancel := context.WithTimeout(b.parent, b.wait)
		defer cancel()
		c.SetUserContext(keepSpan(ctx, c))
		return c.Next()
	}
}

// optionalJSON is json for a route whose body may be left out: a request
// without one passes, whatever its headers say.
func (b *bodyReader) optionalJSON(limit int) fiber.Handler {
	withBody := b.json(limit)
	return func(c *fiber.Ctx) error {
		if !hasBody(c) {
			return c.Next()
		}
		return withBody(c)
	}
}

// none refuses, with 413, a body sent with a method that takes none here
// (GET, HEAD, DELETE, OPTIONS): it is discarded, never held.
func (b *bodyReader) none() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodPost, fiber.MethodPatch, fiber.MethodPut:
			return c.Next() // the route reads its body, or has none to read
		}
		if _, err := b.read(c, 0); err != nil {
			return err
		}
		return c.Next()
	}
}

// hasBody reports whether the request declares a body.
func hasBody(c *fiber.Ctx) bool {
	n := c.Request().Header.ContentLength()
	return n > 0 || n == -1 // -1: chunked
}

// read reads a streamed request body into memory, at most limit bytes, once
// the budget grants it room; release gives the room back.
func (b *bodyReader) read(c *fiber.Ctx, limit int) (release func(), err error) {
	release = func() {}
	req := c.Request()
	if !req.IsBodyStream() {
		if len(req.Body()) > limit {
			return release, bodyTooLarge(limit)
		}
		return release, nil // no body on the wire, or one fasthttp read with the headers
	}
	size := req.Header.ContentLength() // -1 when chunked
	if size > b.discard {
		c.Response().SetConnectionClose()
		return release, bodyTooLarge(limit)
	}
	want := int64(limit) + 1
	if size >= 0 && size <= limit {
		want = int64(size)
	}
	// fasthttp already holds the first 8 KiB; a small body costs no more.
	if want > smallBody {
		ctx, cancel := context.WithTimeout(b.parent, b.wait)
		err := b.budget.Acquire(ctx, want)
		cancel()
		if err != nil {
			c.Response().SetConnectionClose() // the body stays unread
			return release, errBusy
		}
		release = func() { b.budget.Release(want) }
	}
	body, err := readAtMost(req.BodyStream(), int(want))
	if err != nil {
		c.Response().SetConnectionClose()
		release()
		return func() {}, bodyReadError(err)
	}
	if len(body) > limit {
		release()
		n, err := io.CopyN(io.Discard, req.BodyStream(), int64(b.discard-len(body))+1)
		if (err != nil && !errors.Is(err, io.EOF)) || int(n)+len(body) > b.discard {
			c.Response().SetConnectionClose()
		}
		return func() {}, bodyTooLarge(limit)
	}
	req.SetBodyRaw(body)
	return release, nil
}

// bodyReadError explains a body that did not arrive whole.
func bodyReadError(err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &requestError{status: fiber.StatusRequestTimeout,
			detail: "the request body did not arrive in time"}
	}
	return badRequest("the request body ended before its declared length: " + err.Error())
}

// smallBody is what fasthttp reads with the headers, before any handler.
const smallBody = 8 << 10

// bodyTooLarge is the 413 for a body over a route's limit.
func bodyTooLarge(limit int) error {
	detail := "this request takes no body"
	if limit > 0 {
		detail = fmt.Sprintf("the request body exceeds this route's limit of %d bytes", limit)
	}
	return &requestError{status: fiber.StatusRequestEntityTooLarge, detail: detail}
}

var (
	errBusy = &requestError{status: fiber.StatusServiceUnavailable,
		detail: "the server is receiving too many request bodies at once; retry later"}
)

// readAtMost reads r until EOF or limit bytes, into one buffer of limit
// bytes: no doubling on the way.
func readAtMost(r io.Reader, limit int) ([]byte, error) {
	buf := make([]byte, 0, limit)
	for len(buf) < limit {
		n, err := r.Read(buf[len(buf):limit])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// checkJSONHeaders refuses bodies that are not declared as uncompressed
// JSON in UTF-8. The header's value is not repeated: nothing the client
// sent is echoed.
func checkJSONHeaders(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	// The usual spellings skip the parser and its allocations.
	isJSON := ct == fiber.MIMEApplicationJSON || ct == fiber.MIMEApplicationJSONCharsetUTF8
	if !isJSON {
		mt, params, err := mime.ParseMediaType(ct)
		isJSON = err == nil && (mt == fiber.MIMEApplicationJSON ||
			(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")))
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			isJSON = false
		}
	}
	if !isJSON {
		return &requestError{status: fiber.StatusUnsupportedMediaType,
			detail: "Content-Type must be application/json (in UTF-8); multipart and form bodies are not read"}
	}
	// Compressed bodies are refused: their size after inflating is
	// unbounded, and JSON this small gains nothing from compression.
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return &requestError{status: fiber.StatusUnsupportedMediaType,
			detail: "a Content-Encoding other than identity is not supported; send the body uncompressed"}
	}
	return nil
}

// authenticator finds the user an API key belongs to.
type authenticator interface {
	ByAPIKey(ctx context.Context, key string) (twitter.User, error)
}

// actorHandler serves a request for actor, the owner of its X-API-Key.
// Only requireUser and optionalUser make it a fiber.Handler, so no route
// can reach one without authentication having run.
type actorHandler func(c *fiber.Ctx, actor *twitter.User) error

// requireUser runs h for the owner of X-API-Key, never with a nil actor: a
// request without the header, or with a key that belongs to nobody, gets 401.
func requireUser(users authenticator) func(actorHandler) fiber.Handler {
	return withUser(users, true)
}

// optionalUser runs h for the owner of X-API-Key, or with a nil actor when
// the header is absent (an anonymous request); an unknown key gets 401.
func optionalUser(users authenticator) func(actorHandler) fiber.Handler {
	return withUser(users, false)
}

// anonymous runs h without an actor, whatever X-API-Key holds.
func anonymous(h actorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error { return h(c, nil) }
}

func withUser(users authenticator, required bool) func(actorHandler) fiber.Handler {
	return func(h actorHandler) fiber.Handler {
		return func(c *fiber.Ctx) error {
			key := c.Get(headerAPIKey)
			if key == "" {
				if required {
					return errNoAPIKey
				}
				return h(c, nil)
			}
			u, err := users.ByAPIKey(c.UserContext(), key)
			if err != nil {
				return err
			}
			c.Locals(actorIDKey{}, u.ID) // for the access log
			return h(c, &u)
		}
	}
}

const headerAPIKey = "X-API-Key"

var errNoAPIKey = fmt.Errorf("no %s header: %w", headerAPIKey, twitter.ErrUnauthorized)
