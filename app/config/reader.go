package config

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// reader reads variables through getenv and collects every complaint, so
// Load reports them all at once.
type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) fail(name, format string, args ...any) {
	r.errs = append(r.errs, fmt.Errorf("%s %s", name, fmt.Sprintf(format, args...)))
}

func (r *reader) lookup(name string) string {
	return strings.TrimSpace(r.getenv(name))
}

func (r *reader) required(name string) string {
	v := r.lookup(name)
	if v == "" {
		r.fail(name, "is required but not set")
	}
	return v
}

func (r *reader) int(name string, def, lo, hi int) int {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		r.fail(name, "must be an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

// duration reads a positive duration.
func (r *reader) duration(name string, def time.Duration) time.Duration {
	return r.durationOf(name, def, 1, "must be a positive duration such as 5s or 250ms, got %q")
}

// durationOrZero is duration that also accepts 0, which turns a step off.
func (r *reader) durationOrZero(name string, def time.Duration) time.Duration {
	return r.durationOf(name, def, 0, "must be a duration such as 2s, or 0 to skip it, got %q")
}

// durationOf reads a duration of at least least; complaint, given the
// value, says what else it must be.
func (r *reader) durationOf(name string, def, least time.Duration, complaint string) time.Duration {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < least {
		r.fail(name, complaint, v)
		return def
	}
	return d
}

func (r *reader) level(name string, def slog.Level) slog.Level {
	v := r.lookup(name)
	if v == "" {
		return def
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(v)); err != nil {
		r.fail(name, "must be one of debug, info, warn, error, got %q", v)
		return def
	}
	return l
}

// addr reads a host:port to listen on; "off" turns the listener off.
func (r *reader) addr(name, def string) string {
	v := r.lookup(name)
	switch v {
	case "":
		return def
	case "off":
		return ""
	}
	if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
		r.fail(name, "must be host:port such as 127.0.0.1:9090 (or :9090 for every interface), or off, got %q", v)
		return def
	}
	return v
}

// prefixes reads a comma-separated list of CIDRs (10.0.0.0/8, fd00::/8);
// a bare address is its own /32 or /128.
func (r *reader) prefixes(name string) []netip.Prefix {
	v := r.lookup(name)
	if v == "" {
		return nil
	}
	var out []netip.Prefix
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil || a.Zone() != "" {
				r.fail(name, "must be a comma-separated list of CIDRs such as 10.0.0.0/8,fd00::/8, got %q", item)
				return nil
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// url reads an http or https URL.
func (r *reader) url(name string) string {
	v := r.lookup(name)
	if v == "" {
		return ""
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		r.fail(name, "must be an http:// or https:// URL such as http://localhost:4318, got %q", v)
		return ""
	}
	return v
}

// pairs reads the OpenTelemetry list form key1=value1,key2=value2, with
// percent-encoded values.
func (r *reader) pairs(name string) map[string]string {
	v := r.lookup(name)
	if v == "" {
		return nil
	}
	m := map[string]string{}
	for item := range strings.SplitSeq(v, ",") {
		k, val, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if !ok || k == "" || err != nil {
			r.fail(name, "must be a list such as key1=value1,key2=value2, got %q", v)
			return nil
		}
		m[k] = dec
	}
	return m
}

func (r *reader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(r.lookup(name))
	if v == "" {
		return def
	}
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, "must be one of %s, got %q", strings.Join(allowed, ", "), v)
	return def
}
