package testdb

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"time"
)

// Proxy is a TCP relay between the service and PostgreSQL that a test can
// cut and restore, to make the database really go away and come back, or
// stall, to make it hang with every connection open.
type Proxy struct {
	target string

	mu    sync.Mutex
	addr  string
	ln    net.Listener
	conns map[net.Conn]struct{}
	delay time.Duration
	flow  chan struct{} // closed while bytes flow; open while stalled
	wg    sync.WaitGroup

	stmtMu     sync.Mutex
	statements []string
}

// flowing is closed once bytes may pass.
func (p *Proxy) flowing() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flow
}

// Stall keeps every connection open and accepts new ones, but passes no
// byte either way: queries hang as they would behind a frozen database or a
// network that drops packets silently.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flow:
		p.flow = make(chan struct{})
	default: // already stalled
	}
}

// Resume lets bytes flow again; what was held is delivered, nothing is lost.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.flow:
	default:
		close(p.flow)
	}
}

// NewProxy listens on a free loopback port and relays to target (host:port).
func NewProxy(target string) (*Proxy, error) {
	flow := make(chan struct{})
	close(flow)
	p := &Proxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}, flow: flow}
	if err := p.Up(); err != nil {
		return nil, err
	}
	return p, nil
}

// ProxyFor starts a Proxy to dsn's server and returns it with dsn rewritten
// to go through it.
func ProxyFor(dsn string) (*Proxy, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, "", err
	}
	p, err := NewProxy(u.Host)
	if err != nil {
		return nil, "", err
	}
	u.Host = p.Addr()
	return p, u.String(), nil
}

// Addr is the proxy's host:port, stable across Down and Up.
func (p *Proxy) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// SetDelay holds each new connection for d before relaying, to make the
// database slow.
func (p *Proxy) SetDelay(d time.Duration) {
	p.mu.Lock()
	p.delay = d
	p.mu.Unlock()
}

// Up starts accepting connections again, on the same port.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Add(1)
	go p.accept(ln)
	return nil
}

// Down refuses new connections and cuts every open one, as a database
// crash or network failure would. It ends a stall: held bytes are dropped.
func (p *Proxy) Down() {
	p.Resume()
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
	p.mu.Unlock()
	if ln != nil {
		_ = ln.Close()
	}
	p.wg.Wait()
}

// Close stops the proxy for good.
func (p *Proxy) Close() { p.Down() }

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		client, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		go p.relay(client)
	}
}

func (p *Proxy) relay(client net.Conn) {
	p.mu.Lock()
	delay := p.delay
	p.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}
	<-p.flowing() // a stalled database accepts connections but never answers
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	if !p.track(client, server) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, stallable{src, p})
		_ = dst.Close()
		_ = src.Close()
		done <- struct{}{}
	}
	go func() {
		p.recordStatements(server, client)
		_ = server.Close()
		_ = client.Close()
		done <- struct{}{}
	}()
	go pipe(client, server)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// track registers a relayed pair, or closes it when the proxy went down
// while it was being set up.
func (p *Proxy) track(client, server net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		_ = client.Close()
		_ = server.Close()
		return false
	}
	p.conns[client] = struct{}{}
	p.conns[server] = struct{}{}
	return true
}

// stallable is a reader that holds what it read while the proxy is stalled.
type stallable struct {
	r io.Reader
	p *Proxy
}

func (s stallable) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	<-s.p.flowing()
	return n, err
}
