package httpapi

import (
	"context"
	"fmt"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

var errDraining = &requestError{status: fiber.StatusServiceUnavailable,
	detail: "the server is shutting down; send requests to another instance"}

// readyTimeout bounds the database ping behind /readyz.
const readyTimeout = time.Second

// handleRoot sends visitors to the interactive documentation.
//
//	@Summary	Redirect to the Swagger UI
//	@Tags		meta
//	@Success	302
//	@Header		302	{string}	Location	"/swagger/index.html"
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
//	@Produce	plain
//	@Success	200	{string}	string	"Goodbye World!"
//	@Router		/hello [get]
func handleHello() fiber.Handler {
	return func(c *fiber.Ctx) error {
		return c.SendString("Goodbye World!")
	}
}

// handleHealthz reports that the process serves, without touching the database.
//
//	@Summary		Liveness
//	@Description	200 while the process serves requests; started_at is the process start with nanosecond precision.
//	@Tags			meta
//	@Produce		json
//	@Success		200	{object}	healthResponse
//	@Router			/healthz [get]
func handleHealthz(version string, startedAt time.Time) fiber.Handler {
	body := healthResponse{Status: "ok", Version: version, StartedAt: startedAt.UTC().Format(time.RFC3339Nano)}
	return func(c *fiber.Ctx) error {
		return c.JSON(body)
	}
}

// handleReadyz reports whether the service should get traffic: not once it
// has begun to shut down, and not while the database does not answer.
//
//	@Summary		Readiness
//	@Description	200 when the database answers a ping within 1 s, else 503 with Retry-After. 503 at once, and from then on, when the process has been told to stop.
//	@Tags			meta
//	@Produce		json
//	@Success		200	{object}	readyResponse
//	@Failure		503	{object}	problem	"Database unavailable"
//	@Router			/readyz [get]
func handleReadyz(db Pinger, draining <-chan struct{}) fiber.Handler {
	return func(c *fiber.Ctx) error {
		select {
		case <-draining:
			return errDraining
		default:
		}
		ctx, cancel := context.WithTimeout(c.UserContext(), readyTimeout)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			// Whatever the cause (down, wrong password), the service is not ready.
			return fmt.Errorf("readyz: %w: %w", twitter.ErrUnavailable, err)
		}
		return c.JSON(readyResponse{Status: "ready"})
	}
}
