package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// problemContentType is the media type of RFC 9457 problem details.
const problemContentType = "application/problem+json"

// maxInstanceBytes bounds the path a problem repeats.
const maxInstanceBytes = 256

// retryAfterSeconds is what a client should wait before retrying a 503.
const retryAfterSeconds = "5"

// problem is an RFC 9457 problem details object.
type problem struct {
	Type      string       `json:"type" example:"about:blank" validate:"required"`
	Title     string       `json:"title" example:"Unprocessable Entity" validate:"required"`
	Status    int          `json:"status" example:"422" validate:"required"`
	Detail    string       `json:"detail,omitempty" example:"text: must not be empty"`
	Instance  string       `json:"instance,omitempty" example:"/tweets"`
	RequestID string       `json:"request_id,omitempty" example:"3f2a9c4e1b7d8a60"`
	Errors    []fieldError `json:"errors,omitempty"`
} //	@name	Problem

// fieldError names one invalid input field.
type fieldError struct {
	Field   string `json:"field" example:"text" validate:"required"`
	Message string `json:"message" example:"must not be empty" validate:"required"`
} //	@name	FieldError

// requestError is a client error found before the domain is involved:
// malformed JSON, a bad query parameter, a wrong content type.
type requestError struct {
	status int
	detail string
	fields []fieldError
}

func (e *requestError) Error() string { return e.detail }

func badRequest(detail string, fields ...fieldError) error {
	return &requestError{status: fiber.StatusBadRequest, detail: detail, fields: fields}
}

func invalid(field, message string) error {
	return &twitter.ValidationError{Fields: []twitter.FieldError{{Field: field, Message: message}}}
}

// problemFor maps an error to its problem details; the one place where
// errors become statuses.
func problemFor(err error) problem {
	var (
		reqErr   *requestError
		valErr   *twitter.ValidationError
		conflict *twitter.ConflictError
		fiberErr *fiber.Error
	)
	switch {
	case errors.As(err, &reqErr):
		return newProblem(reqErr.status, reqErr.detail, reqErr.fields...)
	case errors.As(err, &valErr):
		fields := make([]fieldError, len(valErr.Fields))
		details := make([]string, len(valErr.Fields))
		for i, f := range valErr.Fields {
			fields[i] = fieldError{Field: f.Field, Message: f.Message}
			details[i] = f.Field + ": " + f.Message
		}
		return newProblem(fiber.StatusUnprocessableEntity, strings.Join(details, "; "), fields...)
	case errors.As(err, &conflict):
		return newProblem(fiber.StatusConflict, conflict.Error(),
			fieldError{Field: conflict.Field, Message: "is already taken"})
	case errors.Is(err, twitter.ErrBadCursor):
		return newProblem(fiber.StatusBadRequest, "cursor is not one this API issued: pass Next-Cursor or the Link of a page unchanged",
			fieldError{Field: "cursor", Message: "malformed or forged"})
	case errors.Is(err, twitter.ErrNotFound):
		return newProblem(fiber.StatusNotFound, "the requested resource does not exist")
	case errors.Is(err, twitter.ErrUnknownAPIKey):
		return newProblem(fiber.StatusUnauthorized, "the X-API-Key header does not hold a valid API key")
	case errors.Is(err, twitter.ErrUnauthorized):
		return newProblem(fiber.StatusUnauthorized, "this request needs an API key: send one in X-API-Key")
	case errors.Is(err, twitter.ErrSupersededKey):
		return newProblem(fiber.StatusForbidden, "this API key has been replaced: only the account's current key "+
			"may issue keys or delete the account")
	case errors.Is(err, twitter.ErrForbidden):
		return newProblem(fiber.StatusForbidden, "the owner of this API key is not allowed to do this")
	case errors.Is(err, twitter.ErrCurrentKey):
		return newProblem(fiber.StatusConflict, "this is the account's current API key: replace it with "+
			`POST /users/{id}/keys ("previous_keys": "revoke" ends it at once), or delete the account`)
	case errors.Is(err, twitter.ErrIdempotencyKeyReused):
		return newProblem(fiber.StatusUnprocessableEntity, "this Idempotency-Key was sent before with another request: "+
			"a retry must repeat the method, path and body; a new request needs a new key",
			fieldError{Field: headerIdempotencyKey, Message: "sent before with another request"})
	case errors.Is(err, twitter.ErrIdempotencyKeyInUse):
		return newProblem(fiber.StatusConflict, "a request with this Idempotency-Key is still in progress; retry after it answers")
	case errors.Is(err, twitter.ErrSchemaBehind):
		return newProblem(fiber.StatusServiceUnavailable,
			"the database lacks migrations this version needs; it takes no traffic until they are applied")
	case errors.Is(err, twitter.ErrUnavailable):
		return newProblem(fiber.StatusServiceUnavailable, "the database is unavailable; retry later")
	case errors.Is(err, context.DeadlineExceeded):
		return newProblem(fiber.StatusServiceUnavailable, "the request did not finish within its time budget; retry later")
	case errors.Is(err, context.Canceled):
		return newProblem(fiber.StatusServiceUnavailable, "the server stopped this request while shutting down; retry")
	case errors.As(err, &fiberErr) && fiberErr.Code >= 500:
		// fasthttp's network errors (Fiber calls them 502): the client's side failed.
		return newProblem(fiber.StatusBadRequest, fiberDetail(fiberErr))
	case errors.As(err, &fiberErr):
		return newProblem(fiberErr.Code, fiberDetail(fiberErr))
	}
	return newProblem(fiber.StatusInternalServerError, "an unexpected error occurred")
}

// fiberDetail is a fixed detail for an error Fiber or fasthttp raised:
// their messages may quote the request (its path, its header bytes).
func fiberDetail(e *fiber.Error) string {
	switch e.Code {
	case fiber.StatusNotFound:
		return "no route matches this path"
	case fiber.StatusRequestEntityTooLarge:
		return bodyOverServerLimit
	case fiber.StatusMethodNotAllowed:
		return "this path does not support the request method; Allow lists those it does"
	case fiber.StatusRequestHeaderFieldsTooLarge:
		return "the request headers are too large"
	case fiber.StatusRequestTimeout:
		return "the request did not arrive in time"
	}
	return "the request is malformed: its request line or headers could not be parsed"
}

// bodyOverServerLimit is the detail of fasthttp's own 413, for a body over
// serverBodyLimit.
var bodyOverServerLimit = fmt.Sprintf("the request body exceeds %d MiB, more than this server reads of any request",
	serverBodyLimit>>20)

func newProblem(status int, detail string, fields ...fieldError) problem {
	return problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Errors: fields}
}

// answerErrors answers, with errHandler, an error the handlers below it
// return, so the middleware above it (the access log, metrics, the span)
// see the status the client gets.
func answerErrors(errHandler fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if err := c.Next(); err != nil {
			if herr := errHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		return nil
	}
}

// errorHandler writes every error as problem JSON and logs the unexpected.
// fasthttp calls it directly, without the middleware, for requests it
// refuses itself (headers too large, malformed), and so does
// refuseUnknownMethods; those get a request id and a log line here, which
// holds fixed text only: no header value reaches a log line.
func errorHandler(log *slog.Logger, routes *routeTable) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		c.Set(headerNoSniff, "nosniff")
		p := problemFor(err)
		if p.Status == fiber.StatusMethodNotAllowed {
			if allow := routes.allow(c.Path()); allow != "" {
				c.Set(fiber.HeaderAllow, allow)
			} else {
				p = newProblem(fiber.StatusNotFound, "no route matches this path")
			}
		}
		p.Instance = clip(c.Path(), maxInstanceBytes)
		id, viaMiddleware := c.Locals(requestIDKey{}).(string)
		if !viaMiddleware {
			id = newRequestID()
			c.Set(headerRequestID, id)
			c.Set(fiber.HeaderConnection, "close") // fasthttp closes it anyway
			log.Warn("request refused", "request_id", id, "method", clip(c.Method(), maxNameBytes), "path", p.Instance,
				"status", p.Status, "remote", c.Context().RemoteAddr().String(), "error", p.Detail)
		}
		p.RequestID = id
		switch p.Status {
		case fiber.StatusServiceUnavailable:
			c.Set(fiber.HeaderRetryAfter, retryAfterSeconds)
			log.Warn("unavailable", "request_id", p.RequestID, "error", err.Error())
		case fiber.StatusUnauthorized:
			c.Set(fiber.HeaderWWWAuthenticate, `APIKey header="X-API-Key"`)
		case fiber.StatusInternalServerError:
			log.Error("unexpected error", "request_id", p.RequestID, "error", err.Error())
		}
		return c.Status(p.Status).JSON(p, problemContentType)
	}
}
