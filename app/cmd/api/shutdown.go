package main

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// trackingListener counts open connections and tells when it has closed,
// so shutdown knows the moment the last connection is gone.
type trackingListener struct {
	net.Listener
	open      atomic.Int64
	closeOnce sync.Once
	closed    chan struct{}
}

func newTrackingListener(ln net.Listener) *trackingListener {
	return &trackingListener{Listener: ln, closed: make(chan struct{})}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &trackedConn{Conn: c, l: l}, nil
}

func (l *trackingListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

type trackedConn struct {
	net.Conn
	once sync.Once
	l    *trackingListener
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// drainPoll is how often shutdown checks for the last open connection.
const drainPoll = 5 * time.Millisecond

// shutdown stops accepting, lets in-flight requests finish, and returns as
// soon as the last connection closes. fasthttp's own shutdown only notices
// that on a 100 ms tick, which every dev-mode reload would pay for.
func shutdown(ctx context.Context, app *fiber.App, ln *trackingListener) error {
	done := make(chan error, 1)
	go func() { done <- app.ShutdownWithContext(ctx) }()

	tick := time.NewTicker(drainPoll)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return shutdownResult(err)
		case <-tick.C:
			select {
			case err := <-done: // fasthttp finished too: its verdict wins
				return shutdownResult(err)
			case <-ln.closed:
				if ln.open.Load() == 0 {
					return nil
				}
			default: // still accepting
			}
		}
	}
}

func shutdownResult(err error) error {
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// waitClosed returns once no connection is open, or after at most d.
func waitClosed(ln *trackingListener, d time.Duration) {
	deadline := time.Now().Add(d)
	for ln.open.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(drainPoll)
	}
}
