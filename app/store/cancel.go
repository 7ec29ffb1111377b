package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// What a statement does when its context ends. pgx's default closes the
// connection at once: the statement goes on running on the server, which
// notices the client gone only when it answers, so a write blocked on a
// lock still commits later, after its request was told it failed. A
// statement whose context carries cancelOnServer is cancelled on the server
// instead (a cancel request, as psql's Ctrl-C sends): it either ends there
// without committing, or had committed and its answer arrives.

// CancelDeadline bounds the wait for that answer: a server that does not
// answer by then is unreachable, and the connection is closed as by default.
// A create cut off by its deadline can take this long more to answer.
const CancelDeadline = 2 * time.Second

type cancelOnServerKey struct{}

// cancelOnServer marks ctx's statements to be cancelled on the server.
func cancelOnServer(ctx context.Context) context.Context {
	return context.WithValue(ctx, cancelOnServerKey{}, true)
}

// cancelHandler is a connection's ctxwatch.Handler: pgx's cancel request
// for a context marked cancelOnServer, its deadline handler for the rest.
type cancelHandler struct {
	byDeadline *pgconn.DeadlineContextWatcherHandler
	onServer   *pgconn.CancelRequestContextWatcherHandler
	active     ctxwatch.Handler
}

func newCancelHandler(c *pgconn.PgConn) ctxwatch.Handler {
	return &cancelHandler{
		byDeadline: &pgconn.DeadlineContextWatcherHandler{Conn: c.Conn()},
		onServer:   &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: CancelDeadline},
	}
}

func (h *cancelHandler) HandleCancel(ctx context.Context) {
	h.active = h.byDeadline
	if ctx.Value(cancelOnServerKey{}) != nil {
		h.active = h.onServer
	}
	h.active.HandleCancel(ctx)
}

func (h *cancelHandler) HandleUnwatchAfterCancel() { h.active.HandleUnwatchAfterCancel() }
