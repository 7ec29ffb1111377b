package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"mime"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

const headerRequestID = "X-Request-ID"

type requestIDKey struct{}

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
			b := make([]byte, 8)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Locals(requestIDKey{}, id)
		c.Set(headerRequestID, id)
		return c.Next()
	}
}

// accessLog writes one JSON line a request. It runs the error handler
// itself so the status it logs is the one the client gets.
func accessLog(log *slog.Logger, errHandler fiber.ErrorHandler) fiber.Handler {
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
		log.LogAttrs(c.UserContext(), level, "request",
			slog.String("request_id", id),
			slog.String("method", c.Method()),
			slog.String("path", c.Path()),
			slog.Int("status", status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.Int("bytes", len(c.Response().Body())),
		)
		return nil
	}
}

func isProbe(path string) bool { return path == "/healthz" || path == "/readyz" }

// recoverPanics turns a panic into a 500 problem instead of a dead process.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return c.Next()
	}
}

// limitBody refuses bodies over max bytes with 413.
func limitBody(max int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > max {
			return fiber.ErrRequestEntityTooLarge
		}
		return c.Next()
	}
}

// requireJSON refuses bodies that are not declared as uncompressed JSON in UTF-8.
func requireJSON() fiber.Handler {
	return func(c *fiber.Ctx) error {
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
			return &requestError{
				status: fiber.StatusUnsupportedMediaType,
				detail: fmt.Sprintf("Content-Type must be application/json, got %q", ct),
			}
		}
		// Compressed bodies are refused: their size after inflating is
		// unbounded, and JSON this small gains nothing from compression.
		if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
			return &requestError{
				status: fiber.StatusUnsupportedMediaType,
				detail: fmt.Sprintf("Content-Encoding %q is not supported; send the body uncompressed", enc),
			}
		}
		return c.Next()
	}
}

// authenticator finds the user an API key belongs to.
type authenticator interface {
	ByAPIKey(ctx context.Context, key string) (twitter.User, error)
}

// authenticate makes the owner of X-API-Key the request's actor. Without the
// header the request is anonymous; an unknown key is refused with 401.
func authenticate(users authenticator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(headerAPIKey)
		if key == "" {
			return c.Next()
		}
		u, err := users.ByAPIKey(c.UserContext(), key)
		if err != nil {
			return err
		}
		c.Locals(actorKey{}, &u)
		return c.Next()
	}
}

const headerAPIKey = "X-API-Key"
