package httpapi

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

const headerNoSniff = "X-Content-Type-Options"

// sendNoSniff wraps the server's handler so that every response, routed
// or not, says nosniff: a browser then never reads a JSON body as HTML.
func sendNoSniff(app *fiber.App) {
	next := app.Server().Handler
	app.Server().Handler = func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set(headerNoSniff, "nosniff")
		next(ctx)
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
// after it starts: authentication and every query share it. It descends
// from parent, so cancelling parent aborts the request.
func requestContext(parent context.Context, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		defer startDeadline(parent, c, timeout)()
		return c.Next()
	}
}

// startDeadline gives c a new context under parent that ends timeout from
// now, keeping the request's span; the caller cancels it once c is served.
func startDeadline(parent context.Context, c *fiber.Ctx, timeout time.Duration) context.CancelFunc {
	ctx, cancel := context.WithTimeout(parent, timeout)
	c.SetUserContext(keepSpan(ctx, c))
	return cancel
}
