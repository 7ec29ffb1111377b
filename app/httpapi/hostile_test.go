package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gofiber/fiber/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

// rawOnServer sends raw, a whole HTTP request as bytes, to a's server over
// an in-memory connection and reads the response.
func rawOnServer(a *fiber.App, raw string) result {
	GinkgoHelper()
	// app.Test builds the router on first use; do that before bypassing it.
	warm, err := a.Test(httptest.NewRequest(http.MethodGet, "/healthz", nil), -1)
	Expect(err).NotTo(HaveOccurred())
	warm.Body.Close()
	conn := &memConn{}
	conn.r.WriteString(raw)
	_ = a.Server().ServeConn(conn)
	resp, err := http.ReadResponse(bufio.NewReader(&conn.w), nil)
	Expect(err).NotTo(HaveOccurred(), "no response to %q", raw)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	// The request line names the operation, however broken the rest is.
	method, target, _ := strings.Cut(strings.SplitN(raw, " HTTP/", 2)[0], " ")
	return documented(method, target, result{status: resp.StatusCode, header: resp.Header, body: b})
}

var _ = Describe("hostile requests", func() {
	Describe("multipart and form bodies", func() {
		multipartBody := func(size int) (string, string) {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			f, _ := w.CreateFormFile("text", "big.txt")
			_, _ = f.Write(bytes.Repeat([]byte("a"), size))
			_ = w.Close()
			return b.String(), w.FormDataContentType()
		}

		It("refuses a multipart upload unread with a 415 problem, on every JSON route", func() {
			body, ctype := multipartBody(64 << 10)
			forEachRoute(func(name string, ep endpoint) {
				before := stateOf()
				r := req(ep.method, ep.path).withJSON(body).with("Content-Type", ctype).onServer(app)
				p := expectProblem(r, http.StatusUnsupportedMediaType)
				Expect(p["detail"]).To(ContainSubstring("multipart"), name)
				Expect(stateOf()).To(Equal(before), name)
			})
		})

		It("does not repeat the Content-Type it refuses", func() {
			r := req(http.MethodPost, "/tweets").withJSON(`{"text":"a"}`).with("Content-Type", "text/html; secret=tw_hidden").send()
			expectProblem(r, http.StatusUnsupportedMediaType)
			Expect(string(r.body)).NotTo(ContainSubstring("tw_hidden"))
		})
	})

	Describe("bodies on routes that take none", func() {
		DescribeTable("are refused with a 413 problem, unread",
			func(method, path string, size int) {
				before := stateOf()
				r := req(method, path).withJSON(strings.Repeat(" ", size)).onServer(app)
				p := expectProblem(r, http.StatusRequestEntityTooLarge)
				Expect(p["detail"]).To(ContainSubstring("takes no body"))
				Expect(stateOf()).To(Equal(before))
			},
			Entry("a byte on GET", http.MethodGet, "/tweets", 1),
			Entry("2 MiB on GET", http.MethodGet, "/tweets/1", 2<<20),
			Entry("a small body on DELETE", http.MethodDelete, "/tweets/1", 100),
		)

		It("leaves requests without a body alone", func() {
			Expect(req(http.MethodGet, "/tweets").onServer(app).status).To(Equal(http.StatusOK))
		})
	})

	Describe("the body limit of a JSON route", func() {
		It("is MAX_BODY_BYTES, named in the 413", func() {
			a := httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB), MaxBodyBytes: 2048})
			ok := tweetBody("fits" + strings.Repeat(" ", 2048-len(`{"text":"fits"}`)))
			Expect(ok).To(HaveLen(2048))
			Expect(req(http.MethodPost, "/tweets").withJSON(ok).onServer(a).status).To(Equal(http.StatusCreated))
			p := expectProblem(req(http.MethodPost, "/tweets").withJSON(ok+" ").onServer(a), http.StatusRequestEntityTooLarge)
			Expect(p["detail"]).To(ContainSubstring("2048 bytes"))
		})
	})

	Describe("malformed requests", func() {
		It("answers a request without Host, carrying an API key, with a fixed 400 that repeats nothing of it", func() {
			a, logged := loggingApp(tdb.DB.Services())
			const key = "tw_SECRETSECRETSECRETSECRETSECRETSECRETSECRE"
			r := rawOnServer(a, "GET /tweets HTTP/1.1\r\nX-API-Key: "+key+"\r\n\r\n")
			expectProblem(r, http.StatusBadRequest)
			Expect(r.header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
			Expect(string(r.body)).NotTo(ContainSubstring("SECRET"))
			Expect(logged.String()).To(ContainSubstring("request refused"))
			Expect(logged.String()).NotTo(ContainSubstring("SECRET"))
		})

		DescribeTable("answers other malformed requests with fixed 4xx problems",
			func(raw string) {
				r := rawOnServer(app, raw)
				Expect(r.status).To(BeNumerically(">=", 400))
				Expect(r.status).To(BeNumerically("<", 500))
				expectProblem(r, r.status)
				Expect(string(r.body)).NotTo(ContainSubstring("SECRET"))
			},
			Entry("a header without a colon", "GET /tweets HTTP/1.1\r\nHost: x\r\nX-SECRET\r\n\r\n"),
			Entry("a bad Content-Length", "POST /tweets HTTP/1.1\r\nHost: x\r\nContent-Length: SECRET\r\n\r\n"),
			Entry("two Hosts", "GET /tweets HTTP/1.1\r\nHost: SECRET\r\nHost: SECRET2\r\n\r\n"),
		)

		It("does not repeat the path of an unknown route", func() {
			r := get("/SECRET-path")
			p := expectProblem(r, http.StatusNotFound)
			Expect(p["detail"]).NotTo(ContainSubstring("SECRET"))
		})
	})

	Describe("methods", func() {
		DescribeTable("an unknown or unsupported method is a 405 problem listing the path's methods",
			func(method, path, allow string) {
				r := req(method, path).send()
				expectProblem(r, http.StatusMethodNotAllowed)
				Expect(r.header.Get("Allow")).To(Equal(allow))
				Expect(r.header.Get("X-Request-ID")).To(MatchRegexp(requestIDPattern.String()))
			},
			Entry("PROPFIND on the tweets", "PROPFIND", "/tweets", "GET, HEAD, POST"),
			Entry("BREW on a tweet", "BREW", "/tweets/1", "GET, HEAD, DELETE, PATCH"),
			Entry("PUT on a tweet", http.MethodPut, "/tweets/1", "GET, HEAD, DELETE, PATCH"),
			Entry("POST on a user's tweets", http.MethodPost, "/users/1/tweets", "GET, HEAD"),
		)

		It("an unknown method on an unknown path is a 404 problem", func() {
			expectProblem(req("PROPFIND", "/nowhere").send(), http.StatusNotFound)
		})
	})

	// The requests devtools/contract sent that no other spec pins to one
	// status; the rest of its list is spread over this suite's specs.
	It("answers each of a careless or malicious client's requests with its status, in a small problem, storing nothing", func() {
		u := createUser("hostile_a", "hostile_a@example.com")
		keys := fmt.Sprintf("/users/%d/keys", u.ID)
		deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
		huge := tweetBody(strings.Repeat("a", 2<<20))
		withKey := func(rq request) request { return rq.with("X-API-Key", u.APIKey) }
		t := createTweet("target", u.APIKey)
		for _, c := range []struct {
			name   string
			rq     request
			status int
		}{
			{"100000 nested arrays, over the body limit", req(http.MethodPost, "/tweets").withJSON(deep(100000)), http.StatusRequestEntityTooLarge},
			{"8000 nested arrays as the body", req(http.MethodPost, "/tweets").withJSON(deep(8000)), http.StatusBadRequest},
			{"2 MiB body on PATCH", withKey(req(http.MethodPatch, tweetPath(t.ID)).withJSON(huge)), http.StatusRequestEntityTooLarge},
			{"an escaped NUL as a user id", req(http.MethodGet, "/users/%00"), http.StatusBadRequest},
			{"invalid UTF-8 as a user id", req(http.MethodGet, "/users/%FF%FE/tweets"), http.StatusBadRequest},
			{"an escaped NUL as after_id", req(http.MethodGet, "/tweets?after_id=%00"), http.StatusBadRequest},
			{"a 20 kB query string", req(http.MethodGet, "/tweets?after_id="+strings.Repeat("9", 20000)), http.StatusRequestHeaderFieldsTooLarge},
			{"a malformed key", req(http.MethodPost, "/tweets").withJSON(tweetBody("a")).with("X-API-Key", "not a key"), http.StatusUnauthorized},
			{"a 1000-character key", req(http.MethodPost, "/tweets").withJSON(tweetBody("a")).with("X-API-Key", strings.Repeat("k", 1000)), http.StatusUnauthorized},
			{"deleting an account whose id is above 2^63", withKey(req(http.MethodDelete, "/users/9223372036854775808")), http.StatusBadRequest},
			{"a new key asked for with an array body", withKey(req(http.MethodPost, keys).withJSON(`["revoke"]`)), http.StatusBadRequest},
			{"a new key asked for with a 2 MiB body", withKey(req(http.MethodPost, keys).withJSON(huge)), http.StatusRequestEntityTooLarge},
		} {
			By(c.name)
			before := stateOf()
			r := c.rq.onServer(app)
			expectProblem(r, c.status)
			Expect(len(r.body)).To(BeNumerically("<=", 2048), "a refusal stays small whatever was sent")
			Expect(r.header.Get("X-Content-Type-Options")).To(Equal("nosniff"))
			Expect(stateOf()).To(Equal(before))
		}
	})

	It("says nosniff on every response, refusals included", func() {
		u := createUser("sniffer", "sniffer@example.com")
		for _, r := range []result{
			get("/tweets"),
			get("/healthz"),
			get("/hello"),
			get("/nowhere"),
			postJSON("/tweets", `{"text":`),
			req(http.MethodPost, "/users/"+fmt.Sprint(u.ID)+"/keys").with("X-API-Key", u.APIKey).send(),
			req("PROPFIND", "/tweets").send(),
			req(http.MethodGet, "/tweets").with("X-Padding", strings.Repeat("p", 16<<10)).onServer(app),
			req(http.MethodPost, "/tweets").withJSON(tweetBody(strings.Repeat("a", 9<<20))).onServer(app),
		} {
			Expect(r.header.Get("X-Content-Type-Options")).To(Equal("nosniff"), "%s", r)
		}
	})
})

var _ = Describe("echoed values in problem details", func() {
	long := strings.Repeat("9x", 2000) // 4 KB, not a number
	DescribeTable("are clipped to 64 bytes, so a refusal costs no more than the request",
		func(target, name string) {
			r := req(http.MethodGet, target).on(app)
			p := expectProblem(r, http.StatusBadRequest)
			detail := p["detail"].(string)
			Expect(detail).To(ContainSubstring(name))
			Expect(detail).To(ContainSubstring(long[:64] + "…"))
			Expect(detail).NotTo(ContainSubstring(long[:65]))
			Expect(len(r.body)).To(BeNumerically("<", 1024), "%s", r.body)
		},
		Entry("?limit=", "/tweets?limit="+long, "limit"),
		Entry("?after_id=", "/tweets?after_id="+long, "after_id"),
		Entry("a path id", "/tweets/"+long, "id"),
	)
})
