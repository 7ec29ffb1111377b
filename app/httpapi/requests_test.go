package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/apitest"
)

// result is a response read in full.
type result struct {
	status int
	header http.Header
	body   []byte
	// closed: the response said Connection: close (net/http takes that
	// header out of header).
	closed bool
}

func (r result) String() string {
	return fmt.Sprintf("%d %v %s", r.status, r.header, r.body)
}

// object decodes the body as a JSON object.
func (r result) object() map[string]any {
	GinkgoHelper()
	var m map[string]any
	Expect(json.Unmarshal(r.body, &m)).To(Succeed(), "body: %s", r.body)
	return m
}

// list decodes the body as a JSON array.
//
//nolint:unused // for the specs docs/adding-a-resource.md has a new resource write
func (r result) list() []any {
	GinkgoHelper()
	var l []any
	Expect(json.Unmarshal(r.body, &l)).To(Succeed(), "body: %s", r.body)
	return l
}

// request is one HTTP request to send to an app.
type request struct {
	method string
	target string
	body   *string
	header map[string]string // "" as a value removes the header
}

// req starts a request without a body.
func req(method, target string) request {
	return request{method: method, target: target, header: map[string]string{}}
}

// withJSON gives the request a body declared as application/json.
func (r request) withJSON(body string) request {
	r.body = &body
	r.header["Content-Type"] = "application/json"
	return r
}

// with sets a header; an empty value removes it.
func (r request) with(name, value string) request {
	r.header[name] = value
	return r
}

// on sends the request to a, in-process, and reads the whole response.
func (r request) on(a *fiber.App) result {
	GinkgoHelper()
	var body io.Reader = http.NoBody
	if r.body != nil {
		body = strings.NewReader(*r.body)
	}
	hr := httptest.NewRequest(r.method, r.target, body)
	for k, v := range r.header {
		if v == "" {
			hr.Header.Del(k)
		} else {
			hr.Header.Set(k, v)
		}
	}
	resp, err := a.Test(hr, -1)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return documented(r.method, r.target, result{status: resp.StatusCode, header: resp.Header, body: b, closed: resp.Close})
}

// documented fails the spec when docs/swagger.json does not describe the
// response: every response a spec receives passes through here, so the
// document is checked by every spec without one of them asking.
func documented(method, target string, r result) result {
	GinkgoHelper()
	if r.status == http.StatusInternalServerError {
		return r // a bug's answer, which no operation documents; the specs that provoke one check it
	}
	Expect(apitest.Documented(method, target, r.status, r.header, r.body)).To(Succeed())
	return r
}

// onServer sends the request straight to a's fasthttp server over an
// in-memory connection, as app.Test does, but keeps the response when the
// server itself refuses the request (body over the limit, headers too
// large): app.Test returns only the error then.
func (r request) onServer(a *fiber.App) result {
	GinkgoHelper()
	// app.Test builds the router on first use; do that before bypassing it.
	warm, err := a.Test(httptest.NewRequest(http.MethodGet, "/healthz", nil), -1)
	Expect(err).NotTo(HaveOccurred())
	warm.Body.Close()

	var raw bytes.Buffer
	raw.WriteString(r.method + " " + r.target + " HTTP/1.1\r\nHost: example.com\r\n")
	for k, v := range r.header {
		if v != "" {
			raw.WriteString(k + ": " + v + "\r\n")
		}
	}
	body := ""
	if r.body != nil {
		body = *r.body
	}
	fmt.Fprintf(&raw, "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)

	conn := &memConn{r: raw}
	_ = a.Server().ServeConn(conn) // the error duplicates the response
	resp, err := http.ReadResponse(bufio.NewReader(&conn.w), nil)
	Expect(err).NotTo(HaveOccurred(), "no response to %s %s", r.method, r.target)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return documented(r.method, r.target, result{status: resp.StatusCode, header: resp.Header, body: b})
}

// memConn is a net.Conn that reads a prepared request and records the
// response.
type memConn struct {
	r, w bytes.Buffer
}

func (c *memConn) Read(b []byte) (int, error)     { return c.r.Read(b) }
func (c *memConn) Write(b []byte) (int, error)    { return c.w.Write(b) }
func (*memConn) Close() error                     { return nil }
func (*memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (*memConn) SetDeadline(time.Time) error      { return nil }
func (*memConn) SetReadDeadline(time.Time) error  { return nil }
func (*memConn) SetWriteDeadline(time.Time) error { return nil }

// send sends the request to the spec's app.
func (r request) send() result {
	GinkgoHelper()
	return r.on(app)
}

func get(target string) result {
	GinkgoHelper()
	return req(http.MethodGet, target).send()
}

func postJSON(target, body string) result {
	GinkgoHelper()
	return req(http.MethodPost, target).withJSON(body).send()
}
