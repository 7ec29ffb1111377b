package httpapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"github.com/realclientip/realclientip-go"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// DefaultRateWindow is RateWindow when Deps sets none.
const DefaultRateWindow = time.Minute

// Defaults of the per-address limits, a RateWindow each, for whoever
// configures them (config does): a few sign-ups, and anonymous writes at
// a person's pace.
const (
	DefaultSignupLimit         = 10
	DefaultAnonymousWriteLimit = 60
)

// Defaults of the per-user limits, a RateWindow each: generous for a
// person or a bot that posts often, a wall for a script that floods.
const (
	DefaultKeyedWriteLimit = 300
	DefaultAccountLimit    = 10
)

// maxLimitedUsers bounds the users whose counts one limit holds at once
// (about 100 bytes each); beyond it the least recently seen is forgotten.
const maxLimitedUsers = 1 << 16

// rateLimit allows each client, by its address (clients.bucket), limit
// requests a window; the next are refused with 429, Retry-After and
// problem JSON. Counts are held in this process's memory: with several
// replicas, each counts on its own. skip, when not nil, exempts a request
// from the count. A limit of 0 turns it off.
func rateLimit(limit int, window time.Duration, what string, clients *clientAddrs, skip func(*fiber.Ctx) bool) fiber.Handler {
	if limit <= 0 {
		return func(c *fiber.Ctx) error { return c.Next() }
	}
	refused := &requestError{status: fiber.StatusTooManyRequests,
		detail: fmt.Sprintf("this client sent more than %d %s in %s; retry after the seconds in Retry-After", limit, what, window)}
	return limiter.New(limiter.Config{
		Next:         skip,
		Max:          limit,
		Expiration:   window,
		KeyGenerator: clients.bucket,
		// limiter has set Retry-After.
		LimitReached: func(*fiber.Ctx) error { return refused },
	})
}

// hasAPIKey exempts requests with a key from the anonymous-write limit:
// one with a wrong key is a 401 after one indexed lookup.
func hasAPIKey(c *fiber.Ctx) bool { return c.Get(headerAPIKey) != "" }

// clientAddrs finds a request's client. The TCP peer is the client unless
// it is a trusted proxy; then X-Forwarded-For names the client, read from
// the right: the rightmost address that is not a trusted proxy's, since
// every hop appends and only the entries our own proxies wrote can be
// believed. Fiber's c.IP() takes the leftmost entry, which the client
// writes, so it is not used.
type clientAddrs struct {
	trusted []netip.Prefix
	header  realclientip.RightmostTrustedRangeStrategy
}

func newClientAddrs(trusted []netip.Prefix) *clientAddrs {
	nets := make([]string, len(trusted))
	for i, p := range trusted {
		nets[i] = p.String()
	}
	ranges, err := realclientip.AddressesAndRangesToIPNets(nets...)
	if err != nil {
		panic(fmt.Sprintf("httpapi: trusted proxies: %v", err)) // netip.Prefix strings always parse
	}
	header, err := realclientip.NewRightmostTrustedRangeStrategy(fiber.HeaderXForwardedFor, ranges)
	if err != nil {
		panic(fmt.Sprintf("httpapi: %v", err)) // a constant header name
	}
	return &clientAddrs{trusted: trusted, header: header}
}

// peerTrusted reports whether the TCP peer is a trusted proxy.
func (a *clientAddrs) peerTrusted(c *fiber.Ctx) bool {
	if len(a.trusted) == 0 {
		return false
	}
	peer, ok := netip.AddrFromSlice(c.Context().RemoteIP())
	if !ok {
		return false
	}
	peer = peer.Unmap()
	for _, p := range a.trusted {
		if p.Contains(peer) {
			return true
		}
	}
	return false
}

// addr returns the client's address.
func (a *clientAddrs) addr(c *fiber.Ctx) netip.Addr {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	if !a.peerTrusted(c) {
		return peer
	}
	var forwarded []string
	for _, v := range c.Request().Header.PeekAll(fiber.HeaderXForwardedFor) {
		forwarded = append(forwarded, string(v))
	}
	ip := a.header.ClientIP(http.Header{fiber.HeaderXForwardedFor: forwarded}, "")
	client, err := netip.ParseAddr(ip)
	if err != nil {
		return peer // no header, or only our proxies in it: the proxy itself asked
	}
	return client.WithZone("").Unmap()
}

// String returns the client's address, for the access log.
func (a *clientAddrs) String(c *fiber.Ctx) string { return a.addr(c).String() }

// bucket is the key a client is counted under: its address, or for IPv6
// its /64, the block one subscriber is usually given whole.
func (a *clientAddrs) bucket(c *fiber.Ctx) string {
	addr := a.addr(c)
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// userLimit allows each user limit requests a window, counted by the
// acting user's id, once authentication has run; anonymous requests pass
// (the address limits count those). Fiber's limiter runs before the
// handler and cannot see the user, so the counts are kept here, in a
// bounded LRU whose entries expire with their window.
type userLimit struct {
	limit   int
	window  time.Duration
	refused *requestError
	mu      sync.Mutex
	windows *expirable.LRU[int64, *userWindow]
}

// userWindow is one user's count in the window that started at start.
type userWindow struct {
	start time.Time
	n     int
}

func newUserLimit(limit int, window time.Duration, what string) *userLimit {
	if limit <= 0 {
		return nil
	}
	return &userLimit{limit: limit, window: window,
		refused: &requestError{status: fiber.StatusTooManyRequests,
			detail: fmt.Sprintf("this user sent more than %d %s in %s; retry after the seconds in Retry-After", limit, what, window)},
		windows: expirable.NewLRU[int64, *userWindow](maxLimitedUsers, nil, window),
	}
}

// wrap counts h's requests by their actor; a nil limit (off) returns h.
func (l *userLimit) wrap(h actorHandler) actorHandler {
	if l == nil {
		return h
	}
	return func(c *fiber.Ctx, actor *twitter.User) error {
		if actor != nil {
			if wait, ok := l.take(actor.ID, time.Now()); !ok {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(wait.Seconds())+1))
				return l.refused
			}
		}
		return h(c, actor)
	}
}

// take counts a request of user at now; when the user's window is full it
// returns false and how long until the window ends.
func (l *userLimit) take(user int64, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.windows.Get(user)
	if !ok || now.Sub(w.start) >= l.window {
		w = &userWindow{start: now}
		l.windows.Add(user, w) // expires a window from now
	}
	if w.n >= l.limit {
		return l.window - now.Sub(w.start), false
	}
	w.n++
	return 0, true
}
