package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// closeNotifyListener tells when the server has stopped accepting.
type closeNotifyListener struct {
	net.Listener
	once   sync.Once
	closed chan struct{}
}

func newCloseNotifyListener(ln net.Listener) *closeNotifyListener {
	return &closeNotifyListener{Listener: ln, closed: make(chan struct{})}
}

func (l *closeNotifyListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// drainPoll is how often shutdown checks for the last open connection.
const drainPoll = 5 * time.Millisecond

// shutdown stops accepting, lets in-flight requests finish, and returns as
// soon as the last connection closes. fasthttp's own shutdown only notices
// that on a 100 ms tick, which every dev-mode reload would pay for.
func shutdown(ctx context.Context, app *fiber.App, ln *closeNotifyListener) error {
	done := make(chan error, 1)
	go func() { done <- app.ShutdownWithContext(ctx) }()

	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		case <-tick.C:
			select {
			case <-ln.closed:
				if app.Server().GetOpenConnectionsCount() == 0 {
					return nil
				}
			default: // not yet refusing new connections
			}
		}
	}
}
