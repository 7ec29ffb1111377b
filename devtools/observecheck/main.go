// Command observecheck checks, against the running dev stack, that a request
// can be followed from its HTTP span to its SQL spans in Jaeger, and that the
// admin port serves metrics and profiles while the public port does not.
//
// It sends POST /users with a traceparent of its own, fetches that trace
// from Jaeger's query API until the API's batch has arrived, and finds in it
// the server span, named by the route and child of the caller's span, and
// the INSERT as the server span's child, its values left out. Then it
// parses /metrics with Prometheus' own text parser. It prints the trace id,
// so the caller can find the request's log line by it.
//
//	go -C devtools run ./observecheck -api http://127.0.0.1:5000 \
//	  -admin http://127.0.0.1:9090 -jaeger http://127.0.0.1:16686
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "observecheck: FAIL:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string) error {
	fs := flag.NewFlagSet("observecheck", flag.ContinueOnError)
	api := fs.String("api", "http://127.0.0.1:"+or(getenv("API_PORT"), "5000"), "the API (loopback only)")
	admin := fs.String("admin", "http://127.0.0.1:"+or(getenv("ADMIN_PORT"), "9090"), "its admin port (loopback only)")
	jaeger := fs.String("jaeger", "http://127.0.0.1:"+or(getenv("JAEGER_UI_PORT"), "16686"), "Jaeger's query API (loopback only)")
	wait := fs.Duration("wait", 30*time.Second, "how long the trace may take to reach Jaeger")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, u := range []string{*api, *admin, *jaeger} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}

	traceID, callerSpan := randomHex(16), randomHex(8)
	user := "observe_" + randomHex(6)
	req, _ := http.NewRequest(http.MethodPost, *api+"/users",
		strings.NewReader(fmt.Sprintf(`{"username":%q,"email":"%s@example.com"}`, user, user)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST /users: status %d, want 201", resp.StatusCode)
	}
	tr := strings.Split(resp.Header.Get("traceresponse"), "-")
	if len(tr) != 4 || tr[1] != traceID {
		return fmt.Errorf("traceresponse %q does not carry trace %s", resp.Header.Get("traceresponse"), traceID)
	}
	serverSpan := tr[2]
	fmt.Printf("trace %s: POST /users, server span %s\n", traceID, serverSpan)

	if err := checkTrace(client, *jaeger, traceID, callerSpan, serverSpan, user, *wait); err != nil {
		return err
	}
	if err := checkMetrics(client, *admin); err != nil {
		return err
	}
	for _, path := range []string{"/metrics", "/debug/pprof/"} {
		if code, _, err := get(client, *api+path); err != nil || code != http.StatusNotFound {
			return fmt.Errorf("public port %s: status %d (%v), want 404", path, code, err)
		}
	}
	fmt.Println("observecheck: PASS")
	return nil
}

// jaegerTrace is the part of /api/traces/{id}'s answer that is checked.
type jaegerTrace struct {
	Data []struct {
		Spans []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			Tags []struct {
				Key   string `json:"key"`
				Value any    `json:"value"`
			} `json:"tags"`
		} `json:"spans"`
	} `json:"data"`
}

func checkTrace(client *http.Client, jaeger, traceID, callerSpan, serverSpan, user string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	var last string
	for {
		code, body, err := get(client, jaeger+"/api/traces/"+traceID)
		if err == nil && code == http.StatusOK {
			problem, done := inspect(body, callerSpan, serverSpan, user)
			if done {
				if problem != "" {
					return fmt.Errorf("trace %s: %s", traceID, problem)
				}
				fmt.Printf("jaeger: trace %s has the server span POST /users and its INSERT INTO users child span\n", traceID)
				return nil
			}
			last = problem
		} else {
			last = fmt.Sprintf("status %d, %v", code, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("trace %s not complete in Jaeger after %s: %s", traceID, wait, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// inspect reports what is wrong with the trace, and whether it is final:
// spans still missing may yet arrive, a wrong span will not change.
func inspect(body []byte, callerSpan, serverSpan, user string) (problem string, final bool) {
	var t jaegerTrace
	if err := json.Unmarshal(body, &t); err != nil {
		return "undecodable answer: " + err.Error(), true
	}
	if len(t.Data) != 1 {
		return fmt.Sprintf("%d traces in the answer", len(t.Data)), false
	}
	var server, insert bool
	for _, s := range t.Data[0].Spans {
		for _, tag := range s.Tags {
			if strings.Contains(fmt.Sprint(tag.Value), user) {
				return fmt.Sprintf("span %q tag %s carries the request's value %q", s.OperationName, tag.Key, user), true
			}
		}
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		if s.SpanID == serverSpan {
			if s.OperationName != "POST /users" || parent != callerSpan {
				return fmt.Sprintf("server span named %q, child of %q; want POST /users, child of %s",
					s.OperationName, parent, callerSpan), true
			}
			server = true
		}
		// Bun may run other statements too: find the INSERT by its text.
		for _, tag := range s.Tags {
			if tag.Key == "db.query.text" && strings.Contains(fmt.Sprint(tag.Value), "INSERT INTO users") && parent == serverSpan {
				insert = true
			}
		}
	}
	switch {
	case !server:
		return "no server span yet", false
	case !insert:
		return "no SQL span with INSERT INTO users under the server span yet", false
	}
	return "", true
}

func checkMetrics(client *http.Client, admin string) error {
	code, body, err := get(client, admin+"/metrics")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("admin /metrics: status %d (%v)", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("admin /metrics does not parse: %w", err)
	}
	found := func(family string, want map[string]string) bool {
		for _, m := range families[family].GetMetric() {
			n := 0
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
					n++
				}
			}
			if n == len(want) && (m.GetHistogram() == nil || m.GetHistogram().GetSampleCount() > 0) {
				return true
			}
		}
		return false
	}
	for _, c := range []struct {
		family string
		labels map[string]string
	}{
		{"http_request_duration_seconds", map[string]string{"method": "POST", "route": "/users", "status": "201"}},
		{"http_requests_in_flight", nil},
		{"go_sql_open_connections", map[string]string{"db_name": "api"}},
		{"go_sql_wait_count_total", map[string]string{"db_name": "api"}},
		{"go_goroutines", nil},
	} {
		if !found(c.family, c.labels) {
			return fmt.Errorf("admin /metrics has no %s%v", c.family, c.labels)
		}
	}
	fmt.Printf("metrics: %d families, the request and pool series among them\n", len(families))
	if code, _, err := get(client, admin+"/debug/pprof/"); err != nil || code != http.StatusOK {
		return fmt.Errorf("admin /debug/pprof/: status %d (%v)", code, err)
	}
	return nil
}

func get(client *http.Client, u string) (int, []byte, error) {
	resp, err := client.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// loopback refuses any target but this machine.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return errors.New(raw + ": only loopback addresses are checked")
	}
	return nil
}
