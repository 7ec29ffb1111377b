package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// collector is an OTLP/HTTP traces receiver: what the service exports,
// decoded with OTLP's own protobuf types, as a real collector would.
type collector struct {
	srv   *httptest.Server
	mu    sync.Mutex
	spans []*tracepb.Span
}

func startCollector() *collector {
	GinkgoHelper()
	c := &collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer GinkgoRecover()
		Expect(r.URL.Path).To(Equal("/v1/traces"))
		Expect(r.Header.Get("Content-Type")).To(Equal("application/x-protobuf"))
		b, err := io.ReadAll(r.Body)
		Expect(err).NotTo(HaveOccurred())
		var req coltracepb.ExportTraceServiceRequest
		Expect(proto.Unmarshal(b, &req)).To(Succeed())
		c.mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				c.spans = append(c.spans, ss.Spans...)
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	DeferCleanup(c.srv.Close)
	return c
}

func (c *collector) received() []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...)
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v, ok := kv.Value.Value.(*commonpb.AnyValue_StringValue); ok {
				return v.StringValue
			}
			return kv.Value.String()
		}
	}
	return ""
}

// requestLine returns the access log line of the request with id.
func requestLine(s *server, id string) map[string]any {
	GinkgoHelper()
	for _, l := range logLines(s.out) {
		if l["msg"] == "request" && l["request_id"] == id {
			return l
		}
	}
	Fail("no access log line for request " + id + ":\n" + string(s.out.Contents()))
	return nil
}

const (
	callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpan  = "00f067aa0ba902b7"
)

var _ = Describe("tracing", func() {
	It("continues a trusted proxy's trace from the HTTP span to the SQL spans, and names it in the response and the log", func() {
		col := startCollector()
		s := startServer(env{"DATABASE_URL": tdb.DSN, "OTEL_EXPORTER_OTLP_ENDPOINT": col.srv.URL,
			"OTEL_SERVICE_NAME": "traced-api", "TRUSTED_PROXIES": "127.0.0.1/32"})

		r := do(client, http.MethodPost, s.base+"/users", `{"username":"traced_ada","email":"traced.ada@example.com"}`,
			"traceparent", "00-"+callerTrace+"-"+callerSpan+"-01", "X-Request-ID", "traced-1")
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)

		By("returning the trace in traceresponse: the caller's trace id, the server span's id")
		parts := strings.Split(r.header.Get("traceresponse"), "-")
		Expect(parts).To(HaveLen(4), "traceresponse: %q", r.header.Get("traceresponse"))
		Expect(parts[0]).To(Equal("00"))
		Expect(parts[1]).To(Equal(callerTrace))
		Expect(parts[2]).To(MatchRegexp(`^[0-9a-f]{16}$`))
		Expect(parts[2]).NotTo(Equal(callerSpan))
		Expect(parts[3]).To(Equal("01"))
		serverSpan := parts[2]

		By("logging the same trace and span ids")
		Eventually(s.out).Should(gbytes.Say(`"request_id":"traced-1"`))
		line := requestLine(s, "traced-1")
		Expect(line).To(HaveKeyWithValue("trace_id", callerTrace))
		Expect(line).To(HaveKeyWithValue("span_id", serverSpan))

		By("exporting, at the latest when it stops, a server span named by the route, child of the caller's")
		s.stop()
		spans := col.received()
		var server *tracepb.Span
		for _, sp := range spans {
			if fmt.Sprintf("%x", sp.SpanId) == serverSpan {
				server = sp
			}
		}
		Expect(server).NotTo(BeNil(), "spans: %v", spans)
		Expect(server.Name).To(Equal("POST /users"))
		Expect(server.Kind).To(Equal(tracepb.Span_SPAN_KIND_SERVER))
		Expect(fmt.Sprintf("%x", server.TraceId)).To(Equal(callerTrace))
		Expect(fmt.Sprintf("%x", server.ParentSpanId)).To(Equal(callerSpan))
		Expect(attr(server, "http.route")).To(Equal("/users"))
		Expect(attr(server, "http.response.status_code")).To(ContainSubstring("201"))

		By("with the INSERT as a child span, its statement recorded without the values")
		var insert *tracepb.Span
		for _, sp := range spans {
			if fmt.Sprintf("%x", sp.ParentSpanId) == serverSpan && strings.Contains(attr(sp, "db.query.text"), "INSERT INTO users") {
				insert = sp
			}
		}
		Expect(insert).NotTo(BeNil(), "spans: %v", spans)
		Expect(insert.Kind).To(Equal(tracepb.Span_SPAN_KIND_CLIENT))
		Expect(attr(insert, "db.query.text")).To(ContainSubstring("?"))
		for _, sp := range spans {
			for _, kv := range sp.Attributes {
				Expect(kv.Value.String()).NotTo(Or(ContainSubstring("traced_ada"), ContainSubstring("traced.ada@")),
					"span %q attribute %s carries a value", sp.Name, kv.Key)
			}
		}
	})

	It("starts a new trace for a caller it does not trust, linked to the caller's: its traceparent decides nothing", func() {
		col := startCollector()
		s := startServer(env{"DATABASE_URL": tdb.DSN, "OTEL_EXPORTER_OTLP_ENDPOINT": col.srv.URL})
		// -00: "not sampled", which would keep the request out of the traces.
		r := do(client, http.MethodGet, s.base+"/tweets", "", "traceparent", "00-"+callerTrace+"-"+callerSpan+"-00")
		Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
		parts := strings.Split(r.header.Get("traceresponse"), "-")
		Expect(parts).To(HaveLen(4), "traceresponse: %q", r.header.Get("traceresponse"))
		Expect(parts[1]).NotTo(Equal(callerTrace), "a trace of its own")
		Expect(parts[3]).To(Equal("01"), "sampled by the service's sampler, not the caller's flag")
		s.stop()
		var server *tracepb.Span
		for _, sp := range col.received() {
			if fmt.Sprintf("%x", sp.SpanId) == parts[2] {
				server = sp
			}
		}
		Expect(server).NotTo(BeNil())
		Expect(server.ParentSpanId).To(BeEmpty(), "a root span")
		Expect(server.Links).To(HaveLen(1), "linked to the caller's span, for whoever wants to follow it")
		Expect(fmt.Sprintf("%x", server.Links[0].TraceId)).To(Equal(callerTrace))
		Expect(fmt.Sprintf("%x", server.Links[0].SpanId)).To(Equal(callerSpan))
	})

	It("is off with no OTLP endpoint: no span, no traceresponse, no trace id in the log", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN})
		r := do(client, http.MethodGet, s.base+"/tweets", "",
			"traceparent", "00-"+callerTrace+"-"+callerSpan+"-01", "X-Request-ID", "untraced-1")
		Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
		Expect(r.header.Values("traceresponse")).To(BeEmpty())
		Eventually(s.out).Should(gbytes.Say(`"request_id":"untraced-1"`))
		line := requestLine(s, "untraced-1")
		Expect(line).NotTo(HaveKey("trace_id"))
		Expect(line).NotTo(HaveKey("span_id"))
	})
})

// adminAddrOf waits for s to log its admin listener's address.
func adminAddrOf(s *server) string {
	GinkgoHelper()
	var addr string
	Eventually(func() string {
		for _, l := range logLines(s.out) {
			if l["msg"] == "serving admin" {
				addr, _ = l["addr"].(string)
			}
		}
		return addr
	}).ShouldNot(BeEmpty())
	return addr
}

var _ = Describe("the admin listener", func() {
	It("serves /metrics and pprof, which the public port does not", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN})
		adminAddr := adminAddrOf(s)
		admin := "http://" + adminAddr

		Expect(do(client, http.MethodGet, s.base+"/users/999999", "").status).To(Equal(http.StatusNotFound))
		Expect(do(client, http.MethodGet, s.base+"/tweets", "").status).To(Equal(http.StatusOK))
		Expect(do(client, http.MethodGet, s.base+"/no/such/route", "").status).To(Equal(http.StatusNotFound))
		Expect(do(client, http.MethodGet, s.base+"/", "").status).To(BeNumerically("<", 400))

		r := do(client, http.MethodGet, admin+"/metrics", "")
		Expect(r.status).To(Equal(http.StatusOK))
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(strings.NewReader(string(r.body)))
		Expect(err).NotTo(HaveOccurred())

		By("counting requests by method, route pattern and status")
		count := func(method, route, status string) uint64 {
			for _, m := range families["http_request_duration_seconds"].GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["method"] == method && labels["route"] == route && labels["status"] == status {
					return m.GetHistogram().GetSampleCount()
				}
			}
			return 0
		}
		Expect(count("GET", "/users/:id", "404")).To(BeEquivalentTo(1))
		Expect(count("GET", "/tweets", "200")).To(BeEquivalentTo(1))
		Expect(count("GET", "unmatched", "404")).To(BeEquivalentTo(1), "no route matched: one series for every such path")
		Expect(count("GET", "/", "404")).To(BeZero(), "not mixed with the route GET /")
		Expect(families).To(HaveKey("http_requests_in_flight"))

		By("reporting both pools and the Go runtime")
		pools := map[string]bool{}
		for _, m := range families["go_sql_max_open_connections"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "db_name" {
					pools[l.GetValue()] = true
				}
			}
		}
		Expect(pools).To(Equal(map[string]bool{"api": true, "readiness": true}))
		Expect(families).To(HaveKey("go_sql_in_use_connections"))
		Expect(families).To(HaveKey("go_sql_wait_count_total"))
		Expect(families).To(HaveKey("go_goroutines"))

		By("serving pprof's index and a heap profile")
		r = do(client, http.MethodGet, admin+"/debug/pprof/", "")
		Expect(r.status).To(Equal(http.StatusOK))
		Expect(string(r.body)).To(ContainSubstring("heap"))
		Expect(do(client, http.MethodGet, admin+"/debug/pprof/heap", "").status).To(Equal(http.StatusOK))

		By("serving neither on the public port")
		expectProblem(do(client, http.MethodGet, s.base+"/metrics", ""), http.StatusNotFound)
		expectProblem(do(client, http.MethodGet, s.base+"/debug/pprof/", ""), http.StatusNotFound)
	})

	It("closes an idle connection after HTTP_IDLE_TIMEOUT, as the public port does", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN, "HTTP_IDLE_TIMEOUT": "1s"})
		adminAddr := adminAddrOf(s)
		conn, err := net.DialTimeout("tcp", adminAddr, 5*time.Second)
		Expect(err).NotTo(HaveOccurred())
		defer conn.Close()
		_, err = conn.Write([]byte("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n"))
		Expect(err).NotTo(HaveOccurred())
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		_, _ = io.Copy(io.Discard, resp.Body)
		idle := time.Now()
		Expect(conn.SetReadDeadline(time.Now().Add(10 * time.Second))).To(Succeed())
		_, err = conn.Read(make([]byte, 1))
		Expect(err).To(MatchError(io.EOF), "the server closed the idle connection")
		Expect(time.Since(idle)).To(BeNumerically("<", 5*time.Second))
	})

	It("is off with ADMIN_ADDR=off", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN, "ADMIN_ADDR": "off"})
		Expect(do(client, http.MethodGet, s.base+"/healthz", "").status).To(Equal(http.StatusOK))
		for _, l := range logLines(s.out) {
			Expect(l["msg"]).NotTo(Equal("serving admin"))
		}
	})
})
