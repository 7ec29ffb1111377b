package httpapi

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.opentelemetry.io/otel/trace"
)

// accessLog writes one JSON line a request. It runs outside answerErrors,
// so the status it logs is the one the client gets.
func accessLog(log *slog.Logger, clients *clientAddrs) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next() // nil: answerErrors, below, has answered errors
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
		return err
	}
}

func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }
