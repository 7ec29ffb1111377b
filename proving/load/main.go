// Command load drives the API over real HTTP with vegeta
// (github.com/tsenart/vegeta/v12) and keeps only what is this project's
// own: the scenarios, the API-versus-floor alternation with CPU per request
// from /proc (compare.go), the phases of make replicas-test (soak.go), and
// the check that every acknowledged create is readable.
//
//	load -url http://127.0.0.1:5000 -duration 10s -concurrency 16      make bench-load
//	load -url URL -floor URL -rounds 2 -api-pid N -floor-pid N          make bench
//	load -url URL -soak -rate 60 -phases a,b -ids-out F -ready-file F   make replicas-test
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:5000", "API base URL (loopback only)")
	duration := fs.Duration("duration", 10*time.Second, "time per scenario")
	conc := fs.Int("concurrency", 16, "concurrent clients")
	soakMode := fs.Bool("soak", false, "steady mixed load in phases until SIGTERM or -max-duration")
	rate := fs.Int("rate", 100, "-soak: requests per second")
	phases := fs.String("phases", "load", "-soak: phase names; SIGUSR1 moves to the next")
	maxDur := fs.Duration("max-duration", 3*time.Minute, "-soak: stop after this long in any case")
	idsOut := fs.String("ids-out", "", "-soak: write the ids of acknowledged creates here")
	readyOut := fs.String("ready-file", "", "-soak: create this file once the load is on")
	floor := fs.String("floor", "", "floor server URL: compare the API with it (loopback only)")
	rounds := fs.Int("rounds", 2, "with -floor: rounds of API then floor per scenario")
	only := fs.String("only", "", "with -floor: run only the scenarios whose name contains this")
	apiPID := fs.Int("api-pid", 0, "with -floor: the API's process, to print its CPU time per request")
	floorPID := fs.Int("floor-pid", 0, "with -floor: the floor's process, likewise")
	pprofURL := fs.String("pprof", "", "with -floor: the API's net/http/pprof base URL; profile each API round (loopback only)")
	pprofDir := fs.String("pprof-dir", "reports/pprof", "with -pprof: where the CPU profiles go")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, u := range []string{*base, *floor, *pprofURL} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	if *duration > 2*time.Minute || *conc < 1 || *conc > 256 {
		return errors.New("-duration is at most 2m and -concurrency 1 to 256")
	}
	switch {
	case *floor != "":
		if *rounds < 1 || *rounds > 10 {
			return errors.New("-rounds is 1 to 10")
		}
		return compare(*base, *floor, *duration, *conc, *rounds, *only, *apiPID, *floorPID, profiler{url: *pprofURL, dir: *pprofDir})
	case *soakMode:
		if *maxDur > 10*time.Minute || *rate < 1 || *rate > 2000 {
			return errors.New("-max-duration is at most 10m and -rate 1 to 2000")
		}
		return soak(soakOptions{base: *base, rate: *rate, conc: *conc,
			phases: strings.Split(*phases, ","), maxDur: *maxDur, idsOut: *idsOut, readyOut: *readyOut})
	}
	return throughput(*base, *duration, *conc)
}

// throughput is make bench-load: each scenario for d with conc clients.
func throughput(base string, d time.Duration, conc int) error {
	client := newClient(conc)
	key, ids, err := setUp(client, base, 200)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	scenarios := []scenario{
		{"GET /tweets/{id}", http.StatusOK, get(func() string { return fmt.Sprintf("%s/tweets/%d", base, pick(ids)) })},
		{"GET /tweets?limit=50", http.StatusOK, get(func() string { return base + "/tweets?limit=50" })},
		{"POST /tweets (with key)", http.StatusCreated, send(http.MethodPost, func() string { return base + "/tweets" },
			func() string { return `{"text":"load test tweet"}` }, key)},
	}
	fmt.Printf("load: %s, %d clients, %s per scenario (vegeta)\n\n", base, conc, d)
	fmt.Printf("%-26s %9s %9s %8s %8s %8s %8s %7s\n", "scenario", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
	var created []int64
	for _, s := range scenarios {
		r := attack(client, s.target, s.want, conc, vegeta.Rate{}, d)
		created = append(created, r.created...)
		l := r.m.Latencies
		fmt.Printf("%-26s %9d %9.0f %8.2f %8.2f %8.2f %8.2f %7d\n", s.name, r.m.Requests, r.rate(),
			ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max), r.failed)
	}
	return readable(client, base, created)
}

type scenario struct {
	name   string
	want   int // the status every request must get
	target vegeta.Targeter
}

// result is one attack's figures: vegeta's metrics and what is ours.
type result struct {
	m       vegeta.Metrics
	failed  int
	created []int64 // ids of the 201s
	elapsed time.Duration
	cpu     time.Duration // the server's CPU time meanwhile, when known
}

func (r *result) rate() float64 { return float64(r.m.Requests) / r.elapsed.Seconds() }

// attack runs tr at pace (vegeta.Rate{}: as fast as conc clients go) for d
// (0: until pace stops), over client's connections. A request fails unless
// it gets want. Each result is added to also's metrics too.
func attack(client *http.Client, tr vegeta.Targeter, want, conc int, pace vegeta.Pacer, d time.Duration, also ...*vegeta.Metrics) result {
	// Only a create's body is read (for its id); others are discarded unread.
	body := vegeta.MaxBody(0)
	if want == http.StatusCreated {
		body = vegeta.MaxBody(-1)
	}
	a := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(uint64(conc)), vegeta.MaxWorkers(uint64(conc)), body)
	var r result
	start := time.Now()
	for res := range a.Attack(tr, pace, d, "") {
		r.m.Add(res)
		for _, m := range also {
			m.Add(res)
		}
		if int(res.Code) != want {
			r.failed++
		} else if id := createdID(res); id > 0 {
			r.created = append(r.created, id)
		}
	}
	r.elapsed = time.Since(start)
	r.m.Close()
	return r
}

func get(url func() string) vegeta.Targeter {
	return func(t *vegeta.Target) error {
		t.Method, t.URL = http.MethodGet, url()
		return nil
	}
}

// send is a targeter of method with a JSON body and an API key.
func send(method string, url, body func() string, key string) vegeta.Targeter {
	h := http.Header{"Content-Type": {"application/json"}, "X-Api-Key": {key}}
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Body, t.Header = method, url(), []byte(body()), h
		return nil
	}
}

// count is a pacer that stops an attack after n requests, sent as fast as
// its clients go.
type count uint64

func (n count) Pace(_ time.Duration, hits uint64) (time.Duration, bool) { return 0, hits >= uint64(n) }
func (count) Rate(time.Duration) float64                                { return 0 }

func createdID(res *vegeta.Result) int64 {
	if res.Code != http.StatusCreated || res.Method != http.MethodPost {
		return 0
	}
	var t struct {
		ID int64 `json:"id"`
	}
	_ = json.Unmarshal(res.Body, &t)
	return t.ID
}

// readable checks that nothing acknowledged was lost: every 201's tweet
// must be readable.
func readable(client *http.Client, base string, ids []int64) error {
	var next atomic.Int64
	r := attack(client, get(func() string { return fmt.Sprintf("%s/tweets/%d", base, ids[next.Add(1)-1]) }),
		http.StatusOK, 16, count(len(ids)), 0)
	fmt.Printf("\nacknowledged creates: %d, readable afterwards: %d\n", len(ids), len(ids)-r.failed)
	if r.failed > 0 {
		return fmt.Errorf("%d acknowledged tweets are missing", r.failed)
	}
	return nil
}

// setUp creates a user and n tweets by them, 16 at a time, in id order.
func setUp(client *http.Client, base string, n int) (key string, ids []int64, err error) {
	name := fmt.Sprintf("load_%d", time.Now().UnixNano()%1e9)
	body, _ := json.Marshal(map[string]string{"username": name, "email": name + "@example.com"})
	resp, err := client.Post(base+"/users", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	var u struct {
		APIKey string `json:"api_key"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&u) != nil {
		return "", nil, fmt.Errorf("create user: status %d", resp.StatusCode)
	}
	r := attack(client, send(http.MethodPost, func() string { return base + "/tweets" },
		func() string { return `{"text":"seed for reads"}` }, u.APIKey), http.StatusCreated, 16, count(n), 0)
	if r.failed > 0 {
		return "", nil, fmt.Errorf("create tweets: %d of %d failed: %v", r.failed, n, r.m.Errors)
	}
	slices.Sort(r.created)
	return u.APIKey, r.created, nil
}

func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: max(conc, 16), MaxConnsPerHost: max(conc, 16)},
	}
}

func pick(ids []int64) int64 { return ids[rand.IntN(len(ids))] }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// loopback refuses any target but this machine's loopback interface.
func loopback(target string) error {
	if target == "" {
		return nil
	}
	u, err := url.Parse(target)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		return fmt.Errorf("%q: only 127.0.0.1 or localhost may be loaded", target)
	}
	return nil
}
