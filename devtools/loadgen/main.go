// Command loadgen measures the API's throughput and latency over real HTTP:
// reads of single tweets, list pages and authenticated creates, each for a
// bounded time. It then checks that every acknowledged create is readable.
//
//	go -C devtools run ./loadgen -url http://127.0.0.1:5000 -duration 10s -concurrency 16
//
// With -soak it instead keeps a steady mix of reads and creates going, in
// phases a driving script advances with SIGUSR1 (see devtools/replicas-test.sh).
//
// With -floor it compares the API with the floor server (devtools/floor)
// instead, scenario by scenario, alternating the two; see compare.go.
//
//	go -C devtools run ./loadgen -url http://127.0.0.1:5300 -floor http://127.0.0.1:5301 -rounds 2
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type scenario struct {
	name string
	do   func(*http.Client) (int, int64, error) // status, created id
}

func run(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
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
	if err := loopback("-url", *base); err != nil {
		return err
	}
	if *duration > 2*time.Minute || *conc < 1 || *conc > 256 {
		return errors.New("-duration is at most 2m and -concurrency 1 to 256")
	}
	if *floor != "" {
		if err := loopback("-floor", *floor); err != nil {
			return err
		}
		if *rounds < 1 || *rounds > 10 {
			return errors.New("-rounds is 1 to 10")
		}
		if *pprofURL != "" {
			if err := loopback("-pprof", *pprofURL); err != nil {
				return err
			}
		}
		return compare(*base, *floor, *duration, *conc, *rounds, *only, *apiPID, *floorPID, profiler{url: *pprofURL, dir: *pprofDir})
	}
	client := newClient(*conc)
	if *soakMode {
		if *maxDur > 10*time.Minute || *rate < 1 || *rate > 2000 {
			return errors.New("-max-duration is at most 10m and -rate 1 to 2000")
		}
		return soak(client, soakOptions{base: *base, rate: *rate, conc: *conc,
			phases: strings.Split(*phases, ","), maxDur: *maxDur, idsOut: *idsOut, readyOut: *readyOut})
	}

	key, ids, err := setUp(client, *base)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	scenarios := []scenario{
		{"GET /tweets/{id}", func(c *http.Client) (int, int64, error) {
			return call(c, http.MethodGet, fmt.Sprintf("%s/tweets/%d", *base, ids[rand.IntN(len(ids))]), "", "")
		}},
		{"GET /tweets?limit=50", func(c *http.Client) (int, int64, error) {
			return call(c, http.MethodGet, *base+"/tweets?limit=50", "", "")
		}},
		{"POST /tweets (with key)", func(c *http.Client) (int, int64, error) {
			return call(c, http.MethodPost, *base+"/tweets", `{"text":"load test tweet"}`, key)
		}},
	}

	fmt.Printf("loadgen: %s, %d clients, %s per scenario\n\n", *base, *conc, *duration)
	fmt.Printf("%-26s %9s %9s %8s %8s %8s %8s %7s\n", "scenario", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")
	var created []int64
	for _, s := range scenarios {
		res := measure(client, s, *conc, *duration)
		created = append(created, res.created...)
		fmt.Printf("%-26s %9d %9.0f %8.2f %8.2f %8.2f %8.2f %7d\n", s.name, len(res.latencies),
			float64(len(res.latencies))/res.elapsed.Seconds(),
			pct(res.latencies, 50), pct(res.latencies, 95), pct(res.latencies, 99), pct(res.latencies, 100), res.failures)
	}

	// Nothing acknowledged may be lost: every 201 must be readable.
	lost := 0
	for _, id := range created {
		if st, _, err := call(client, http.MethodGet, fmt.Sprintf("%s/tweets/%d", *base, id), "", ""); err != nil || st != http.StatusOK {
			lost++
		}
	}
	fmt.Printf("\nacknowledged creates: %d, readable afterwards: %d\n", len(created), len(created)-lost)
	if lost > 0 {
		return fmt.Errorf("%d acknowledged tweets are missing", lost)
	}
	return nil
}

// loopback refuses any target but this machine's loopback interface.
func loopback(flag, target string) error {
	u, err := url.Parse(target)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		return fmt.Errorf("%s must point at 127.0.0.1 or localhost, got %q", flag, target)
	}
	return nil
}

type result struct {
	latencies []time.Duration
	failures  int
	created   []int64
	elapsed   time.Duration
	cpu       time.Duration // the server's CPU time meanwhile, when known
}

func measure(client *http.Client, s scenario, conc int, d time.Duration) result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu  sync.Mutex
		all result
		wg  sync.WaitGroup
	)
	start := time.Now()
	for range conc {
		wg.Go(func() {
			var mine result
			for ctx.Err() == nil {
				t0 := time.Now()
				status, id, err := s.do(client)
				mine.latencies = append(mine.latencies, time.Since(t0))
				switch {
				case err != nil || status >= 300:
					mine.failures++
				case id > 0:
					mine.created = append(mine.created, id)
				}
			}
			mu.Lock()
			all.latencies = append(all.latencies, mine.latencies...)
			all.failures += mine.failures
			all.created = append(all.created, mine.created...)
			mu.Unlock()
		})
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return all
}

func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc},
	}
}

func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	i = max(1, min(i, len(s)))
	return float64(s[i-1].Microseconds()) / 1000
}

// setUp creates a user and 200 tweets to read.
func setUp(c *http.Client, base string) (string, []int64, error) {
	return setUpN(c, base, 200)
}

// setUpN creates a user and n tweets by them, 16 at a time.
func setUpN(c *http.Client, base string, n int) (string, []int64, error) {
	name := fmt.Sprintf("load_%d", time.Now().UnixNano()%1e9)
	body, _ := json.Marshal(map[string]string{"username": name, "email": name + "@example.com"})
	resp, err := c.Post(base+"/users", "application/json", bytes.NewReader(body))
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
	ids := make([]int64, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				st, id, err := call(c, http.MethodPost, base+"/tweets", `{"text":"seed for reads"}`, u.APIKey)
				if err == nil && st != http.StatusCreated {
					err = fmt.Errorf("status %d", st)
				}
				ids[i], errs[i] = id, err
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return "", nil, fmt.Errorf("create tweets: %w", err)
	}
	slices.Sort(ids)
	return u.APIKey, ids, nil
}

// call sends one request and returns the status and, for a 201, the new id.
func call(c *http.Client, method, target, body, key string) (int, int64, error) {
	req, err := http.NewRequest(method, target, bytes.NewBufferString(body))
	if err != nil {
		return 0, 0, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		_, err = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, 0, err
	}
	var t struct {
		ID int64 `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&t)
	return resp.StatusCode, t.ID, err
}
