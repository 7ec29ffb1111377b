package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"
)

var errDraining = &requestError{status: fiber.StatusServiceUnavailable,
	detail: "the server is shutting down; send requests to another instance"}

// readyTimeout bounds the readiness check behind /readyz.
const readyTimeout = time.Second

// handleRoot sends visitors to the interactive documentation.
//
//	@Summary	Redirect to the Swagger UI
//	@Tags		meta
//	@Produce	json,application/problem+json
//	@Success	302
//	@Header		302	{string}	Location	"/swagger/index.html"
//	@Failure	400	{object}	problem	"Body shorter than its Content-Length"
//	@Failure	503	{object}	problem	"Overloaded, timed out or shutting down"
//	@Router		/ [get]
func handleRoot() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.Redirect("/swagger/index.html", fiber.StatusFound)
	}
}

// handleHello is kept from the project this API grew out of.
//
//	@Summary	Say goodbye
//	@Tags		meta
//	@Produce	plain,application/problem+json
//	@Success	200	{string}	string	"Goodbye World!"
//	@Failure	400	{object}	problem	"Body shorter than its Content-Length"
//	@Failure	503	{object}	problem	"Overloaded, timed out or shutting down"
//	@Router		/hello [get]
func handleHello() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.SendString("Goodbye World!")
	}
}

// handleHealthz reports that the process serves, without touching the database.
//
//	@Summary		Liveness
//	@Description	200 while the process serves requests; started_at is the process start, to the millisecond.
//	@Tags			meta
//	@Produce		json,application/problem+json
//	@Success		200	{object}	healthResponse
//	@Failure		400	{object}	problem	"Body shorter than its Content-Length"
//	@Failure		503	{object}	problem	"Overloaded, timed out or shutting down"
//	@Router			/healthz [get]
func handleHealthz(version string, startedAt time.Time) fiber.Handler {
	// Milliseconds tell one process from the next, however fast it restarts.
	body := healthResponse{Status: "ok", Version: version, StartedAt: startedAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")}
	return func(c *fiber.Ctx) error {
		return c.JSON(body)
	}
}

// handleReadyz reports whether the service should get traffic: not once it
// has begun to shut down, not while the database does not answer, and not
// before the database has every migration this version embeds.
//
//	@Summary		Readiness
//	@Description	200 when the database has applied every migration this version embeds and answers within 1 s, on a connection of its own that requests never queue for; else 503 with Retry-After. 503 at once, and from then on, when the process has been told to stop.
//	@Tags			meta
//	@Produce		json,application/problem+json
//	@Success		200	{object}	readyResponse
//	@Failure		400	{object}	problem	"Body shorter than its Content-Length"
//	@Failure		503	{object}	problem	"Database unavailable or without this version's migrations, overloaded, timed out or shutting down"
//	@Router			/readyz [get]
func handleReadyz(ready Readiness, draining <-chan struct{}) fiber.Handler {
	return func(c *fiber.Ctx) error {
		select {
		case <-draining:
			return errDraining
		default:
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
		defer cancel()
		if err := ready.Ready(ctx); err != nil {
			return fmt.Errorf("readyz: %w", err)
		}
		return c.JSON(readyResponse{Status: "ready"})
	}
}
