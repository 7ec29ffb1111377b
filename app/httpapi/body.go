package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/sync/semaphore"
)

// DefaultMaxBodyBytes bounds a JSON request body when Deps sets no
// MaxBodyBytes. The largest legal body is a few KB: a 280-character text
// of characters outside the BMP, each escaped as a surrogate pair (12
// bytes), is 3,360 bytes.
const DefaultMaxBodyBytes = 16 << 10

// LargestMaxBodyBytes is the largest MaxBodyBytes allowed.
const LargestMaxBodyBytes = 1 << 20

// serverBodyLimit is the most of any request body the server reads: a
// refused body is read, and discarded, up to it before the server stops
// listening. Refusing a body it has read lets the 413 reach the client;
// refusing one mid-upload closes the connection, and a client still sending
// may see a reset instead of the answer. Discarded bytes are never held.
const serverBodyLimit = 8 << 20

// BodyBudgetBytes bounds the request body bytes held in memory at once,
// across all requests: a body waits for its share before it is read, so slow
// or concurrent uploads cannot grow memory without bound.
const BodyBudgetBytes = 16 << 20

// preReadBodyBytes is what fasthttp reads with the headers, before any
// handler.
const preReadBodyBytes = 8 << 10

// bodyReader reads request bodies, on the routes that take one, within a
// budget shared by every request: a body waits at most timeout for room
// (under parent), then gets 503; once read, the request's deadline starts
// again with timeout. Bodies over a route's limit are read and discarded up
// to discard bytes so the client sees the 413; beyond that the connection is
// closed after it. Bodies are never buffered before a route has checked
// their headers: a multipart upload or a body on a GET costs no memory.
type bodyReader struct {
	parent  context.Context
	timeout time.Duration
	budget  *semaphore.Weighted
	discard int
}

// json is the first handler of a route whose body is a JSON object of at
// most limit bytes: a body not declared as uncompressed JSON (multipart and
// forms included) is refused unread, with 415; then the body is read and
// the request's deadline starts again.
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
		defer startDeadline(b.parent, c, b.timeout)()
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

// refuseUnexpected refuses, with 413, a body sent with a method that takes
// none here (GET, HEAD, DELETE, OPTIONS): it is discarded, never held.
func (b *bodyReader) refuseUnexpected() fiber.Handler {
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
	// fasthttp already holds the first preReadBodyBytes: a body that fits
	// costs no more.
	if want > preReadBodyBytes {
		ctx, cancel := context.WithTimeout(b.parent, b.timeout)
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

// bodyReadError explains a body that did not arrive whole.
func bodyReadError(err error) error {
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &requestError{status: fiber.StatusRequestTimeout,
			detail: "the request body did not arrive in time"}
	}
	return badRequest("the request body ended before its declared length: " + err.Error())
}

// bodyTooLarge is the 413 for a body over a route's limit.
func bodyTooLarge(limit int) error {
	detail := "this request takes no body"
	if limit > 0 {
		detail = fmt.Sprintf("the request body exceeds this route's limit of %d bytes", limit)
	}
	return &requestError{status: fiber.StatusRequestEntityTooLarge, detail: detail}
}

var errBusy = &requestError{status: fiber.StatusServiceUnavailable,
	detail: "the server is receiving too many request bodies at once; retry later"}
