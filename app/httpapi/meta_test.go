package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("meta endpoints", func() {
	It("redirects / to the Swagger UI", func() {
		r := get("/")
		Expect(r.status).To(Equal(http.StatusFound))
		Expect(r.header.Get("Location")).To(Equal("/swagger/index.html"))
	})

	It("serves the Swagger UI and the OpenAPI document", func() {
		r := get("/swagger/index.html")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.header.Get("Content-Type")).To(HavePrefix("text/html"))
		Expect(strings.ToLower(string(r.body))).To(ContainSubstring("swagger"))

		doc := get("/swagger/doc.json")
		Expect(doc.status).To(Equal(http.StatusOK))
		paths, ok := doc.object()["paths"].(map[string]any)
		Expect(ok).To(BeTrue(), "doc.json: %s", doc.body)
		Expect(paths).To(HaveKey("/tweets"))
		Expect(paths).To(HaveKey("/users/{id}/tweets"))
	})

	It("says Goodbye World! on /hello", func() {
		r := get("/hello")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.header.Get("Content-Type")).To(HavePrefix("text/plain"))
		Expect(string(r.body)).To(Equal("Goodbye World!"))
	})

	It("reports liveness, the version and the start time in UTC to the millisecond on /healthz", func() {
		r := get("/healthz")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.header.Get("Content-Type")).To(HavePrefix("application/json"))
		Expect(r.object()).To(Equal(map[string]any{
			"status":     "ok",
			"version":    testVersion,
			"started_at": "2026-11-26T19:30:15.123Z",
		}))
	})

	It("reports readiness when the database answers on /readyz", func() {
		r := get("/readyz")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(r.object()).To(Equal(map[string]any{"status": "ready"}))
	})

	DescribeTable("unknown routes are 404 problems",
		func(method, target string) {
			p := expectProblem(req(method, target).send(), http.StatusNotFound)
			Expect(p).To(HaveKeyWithValue("instance", strings.SplitN(target, "?", 2)[0]))
		},
		Entry("unknown path", http.MethodGet, "/nope"),
		Entry("paths are case-sensitive", http.MethodGet, "/Tweets"),
		Entry("extra segment", http.MethodGet, "/tweets/1/extra"),
		Entry("nested unknown", http.MethodGet, "/users/1/followers"),
		Entry("unknown path with query", http.MethodGet, "/nope?limit=1"),
		Entry("POST to an unknown path", http.MethodPost, "/nope"),
	)

	DescribeTable("a known path with the wrong method is a 405 problem",
		func(method, target string) {
			expectProblem(req(method, target).send(), http.StatusMethodNotAllowed)
		},
		Entry("PUT /tweets", http.MethodPut, "/tweets"),
		Entry("DELETE /tweets", http.MethodDelete, "/tweets"),
		Entry("PATCH /tweets", http.MethodPatch, "/tweets"),
		Entry("POST /tweets/1", http.MethodPost, "/tweets/1"),
		Entry("PUT /tweets/1", http.MethodPut, "/tweets/1"),
		Entry("GET /users", http.MethodGet, "/users"),
		Entry("PUT /users/1", http.MethodPut, "/users/1"),
		Entry("GET /users/1/keys", http.MethodGet, "/users/1/keys"),
		Entry("GET /users/1/keys/current", http.MethodGet, "/users/1/keys/current"),
		Entry("PATCH /users/1", http.MethodPatch, "/users/1"),
		Entry("POST /users/1/tweets", http.MethodPost, "/users/1/tweets"),
		Entry("POST /healthz", http.MethodPost, "/healthz"),
		Entry("DELETE /readyz", http.MethodDelete, "/readyz"),
		Entry("POST /hello", http.MethodPost, "/hello"),
	)

	Describe("X-Request-ID", func() {
		It("generates an id when the client sends none, different for each request", func() {
			a, b := get("/hello"), get("/hello")
			Expect(a.header.Get("X-Request-ID")).To(MatchRegexp(requestIDPattern.String()))
			Expect(b.header.Get("X-Request-ID")).To(MatchRegexp(requestIDPattern.String()))
			Expect(a.header.Get("X-Request-ID")).NotTo(Equal(b.header.Get("X-Request-ID")))
		})

		It("echoes a plain client id, also in problem bodies", func() {
			const id = "client-42.retry_1:abc"
			r := req(http.MethodGet, "/healthz").with("X-Request-ID", id).send()
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(r.header.Get("X-Request-ID")).To(Equal(id))

			p := expectProblem(req(http.MethodGet, "/tweets/abc").with("X-Request-ID", id).send(), http.StatusBadRequest)
			Expect(p).To(HaveKeyWithValue("request_id", id))
		})

		DescribeTable("replaces a client id that is not short and plain",
			func(id string) {
				r := req(http.MethodGet, "/hello").with("X-Request-ID", id).send()
				Expect(r.status).To(Equal(http.StatusOK))
				got := r.header.Get("X-Request-ID")
				Expect(got).To(MatchRegexp(requestIDPattern.String()))
				Expect(got).NotTo(Equal(strings.TrimSpace(id)))
			},
			Entry("with a space", "abc def"),
			Entry("with a newline (sent on the wire as a space)", "abc\ndef"),
			Entry("with a tab", "abc\tdef"),
			Entry("with markup", "<script>alert(1)</script>"),
			Entry("with non-ASCII", "idé"),
			Entry("longer than 128 characters", strings.Repeat("a", 129)),
		)
	})
})

var _ = Describe("access log", func() {
	var (
		logged *bytes.Buffer
		logApp *fiber.App
	)

	BeforeEach(func() {
		logApp, logged = loggingApp(tdb.DB.Services())
	})

	lines := func() []map[string]any { return logLines(logged) }

	It("writes one JSON line a request with id, method, path, status and duration", func() {
		r := req(http.MethodGet, "/tweets/999").with("X-Request-ID", "trace-1").on(logApp)
		Expect(r.status).To(Equal(http.StatusNotFound))
		Expect(lines()).To(ConsistOf(SatisfyAll(
			HaveKeyWithValue("msg", "request"),
			HaveKeyWithValue("request_id", "trace-1"),
			HaveKeyWithValue("method", "GET"),
			HaveKeyWithValue("path", "/tweets/999"),
			HaveKeyWithValue("status", BeNumerically("==", 404)),
			HaveKeyWithValue("duration_ms", BeNumerically(">=", 0)),
		)))
	})

	It("keeps successful health probes out of the info log", func() {
		Expect(req(http.MethodGet, "/healthz").on(logApp).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodGet, "/readyz").on(logApp).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodGet, "/hello").on(logApp).status).To(Equal(http.StatusOK))
		Expect(lines()).To(ConsistOf(HaveKeyWithValue("path", "/hello")))
	})
})
