package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// compare loads the API and the floor server with the same scenarios,
// alternating them (API, floor, API, floor...) so that drift on a shared
// machine falls on both, and prints each scenario's figures side by side.
// Both servers use the same database, so the setup made through the API
// (a user, its key, 1000 tweets with that author) serves both.
//
// apiPID and floorPID, when not 0, are the servers' processes on this
// machine: their CPU time per request is printed too, the cost a request
// puts on the server whatever the machine's load does to throughput.
func compare(api, floor string, d time.Duration, conc, rounds int, only string, apiPID, floorPID int, prof profiler) error {
	setupClient := newClient(16)
	key, ids, err := setUp(setupClient, api, 1000)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	cursors, err := listCursors(setupClient, api)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	// A page of 100 that starts at a random seeded tweet and stays inside
	// them, so every row has its author: after an id on the floor, after a
	// cursor on the API, which is how its clients page.
	listPage := map[string]func() string{
		api:   func() string { return "cursor=" + cursors[rand.IntN(len(cursors))] },
		floor: func() string { return fmt.Sprintf("after_id=%d", ids[rand.IntN(len(ids)-100)]-1) },
	}
	scenarios := func(base string) []scenario {
		var kept []scenario
		for _, s := range []scenario{
			{"GET /tweets/{random id}", http.StatusOK, get(func() string { return fmt.Sprintf("%s/tweets/%d", base, pick(ids)) })},
			{"POST /tweets with key", http.StatusCreated, send(http.MethodPost, func() string { return base + "/tweets" },
				func() string { return `{"text":"bench tweet"}` }, key)},
			{"GET /tweets?limit=100", http.StatusOK, get(func() string { return fmt.Sprintf("%s/tweets?limit=100&%s", base, listPage[base]()) })},
			{"PATCH /tweets/{id} with key", http.StatusOK, send(http.MethodPatch, func() string { return fmt.Sprintf("%s/tweets/%d", base, pick(ids)) },
				func() string { return fmt.Sprintf(`{"text":"patched %d"}`, rand.IntN(1e6)) }, key)},
		} {
			if strings.Contains(s.name, only) {
				kept = append(kept, s)
			}
		}
		return kept
	}
	targets := []struct {
		name      string
		client    *http.Client
		scenarios []scenario
		pid       int
	}{
		{"api", newClient(conc), scenarios(api), apiPID},
		{"floor", newClient(conc), scenarios(floor), floorPID},
	}
	n := len(targets[0].scenarios)
	if n == 0 {
		return fmt.Errorf("no scenario name contains %q", only)
	}
	type total struct {
		m        vegeta.Metrics // of every round
		failed   int
		cpu      time.Duration
		roundRPS []float64 // for the median
	}
	all := make([][2]total, n)

	fmt.Printf("bench: API %s vs floor %s, %d clients, %s per run, %d rounds (API and floor alternate; vegeta)\n",
		api, floor, conc, d, rounds)
	// Warm both: connections, caches, the runtime.
	for _, t := range targets {
		for _, s := range t.scenarios {
			attack(t.client, s.target, s.want, conc, vegeta.Rate{}, d/5)
		}
	}
	for round := 1; round <= rounds; round++ {
		for i := range n {
			for ti, t := range targets {
				s := t.scenarios[i]
				var profiled func() error
				if ti == 0 {
					profiled = prof.start(fmt.Sprintf("%s-round%d", s.name, round), d)
				}
				cpu0 := cpuTime(t.pid)
				tt := &all[i][ti]
				r := attack(t.client, s.target, s.want, conc, vegeta.Rate{}, d, &tt.m)
				r.cpu = cpuTime(t.pid) - cpu0
				if profiled != nil {
					if err := profiled(); err != nil {
						return err
					}
				}
				fmt.Printf("  round %d  %-28s %-5s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  CPU %6.1f µs/req  errors %d\n",
					round, s.name, t.name, r.rate(), ms(r.m.Latencies.P50), ms(r.m.Latencies.P99), perRequest(r.cpu, r.m.Requests), r.failed)
				tt.roundRPS = append(tt.roundRPS, r.rate())
				tt.cpu += r.cpu
				tt.failed += r.failed
			}
		}
	}
	for i := range all {
		for ti := range all[i] {
			all[i][ti].m.Close()
		}
	}

	fmt.Printf("\n%-28s %9s %9s %6s %8s %8s %8s %8s %6s %8s %8s %6s %7s\n", "scenario",
		"api req/s", "floor", "ratio", "api p50", "floor", "api p99", "floor", "ratio", "api CPU", "floor", "ratio", "errors")
	fmt.Println("(req/s: the median round; p50, p99 and CPU over all rounds)")
	failed := 0
	for i := range n {
		a, f := all[i][0], all[i][1]
		ma, mf := median(a.roundRPS), median(f.roundRPS)
		ca, cf := perRequest(a.cpu, a.m.Requests), perRequest(f.cpu, f.m.Requests)
		fmt.Printf("%-28s %9.0f %9.0f %5.2fx %8.2f %8.2f %8.2f %8.2f %5.2fx %8.1f %8.1f %5.2fx %3d/%-3d\n", targets[0].scenarios[i].name,
			ma, mf, ma/mf,
			ms(a.m.Latencies.P50), ms(f.m.Latencies.P50), ms(a.m.Latencies.P99), ms(f.m.Latencies.P99),
			float64(a.m.Latencies.P99)/float64(f.m.Latencies.P99), ca, cf, ca/cf, a.failed, f.failed)
		failed += a.failed + f.failed
	}
	fmt.Println("\nratio: API / floor (req/s higher is better; p99 and CPU lower is better); latencies in ms;")
	fmt.Println("CPU: the server process's user+system time per request, in µs (0 without -api-pid/-floor-pid)")
	if failed > 0 {
		return fmt.Errorf("%d requests failed", failed)
	}
	return nil
}

// listCursors follows base's list from its start, ten tweets a page, and
// returns the Next-Cursor of every page but the last ten, so that a page of
// 100 after any of them is full.
func listCursors(c *http.Client, base string) ([]string, error) {
	var cursors []string
	next := base + "/tweets?limit=10"
	for next != "" {
		resp, err := c.Get(next)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("list: status %d", resp.StatusCode)
		}
		cursors = append(cursors, resp.Header.Get("Next-Cursor"))
		next = ""
		if resp.Header.Get("Link") != "" {
			next = base + "/tweets?limit=10&cursor=" + resp.Header.Get("Next-Cursor")
		}
	}
	if len(cursors) <= 10 {
		return nil, fmt.Errorf("list: %d pages, too few", len(cursors))
	}
	return cursors[:len(cursors)-10], nil
}

// cpuTime is the user plus system CPU time pid has used so far, from
// /proc (Linux, in clock ticks of 10 ms: USER_HZ is 100 on every Linux
// this runs on); 0 when pid is 0 or unreadable.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, field 2, may hold spaces: count from its ')'.
	fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func perRequest(cpu time.Duration, requests uint64) float64 {
	if requests == 0 {
		return 0
	}
	return float64(cpu.Microseconds()) / float64(requests)
}

// profiler takes a CPU profile of the API while a round loads it, when
// url (net/http/pprof's) is set: profile before cutting.
type profiler struct{ url, dir string }

// start begins a profile lasting most of d and returns a function that
// waits for it and writes it to dir/name.pprof; nil when not profiling.
func (p profiler) start(name string, d time.Duration) func() error {
	if p.url == "" {
		return nil
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.url, max(1, int(d.Seconds())-1)))
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		file := strings.NewReplacer("/", "_", " ", "_", "{", "", "}", "", "?", "_", "=", "").Replace(name)
		f, err := os.Create(filepath.Join(p.dir, file+".pprof"))
		if err != nil {
			done <- err
			return
		}
		_, err = io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		done <- err
	}()
	return func() error { return <-done }
}

// median of xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
