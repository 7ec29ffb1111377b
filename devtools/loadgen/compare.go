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
)

// compare loads the API and the floor server with the same scenarios,
// alternating them (API, floor, API, floor...) so that drift on a shared
// machine falls on both, and prints each scenario's figures side by side.
// Both servers use the same database, so the setup made through the API
// (a user, its key, 1000 tweets with that author) serves both.
//
// only, when set, keeps the scenarios whose name contains it.
//
// apiPID and floorPID, when not 0, are the servers' processes on this
// machine: their CPU time per request is printed too, the cost a request
// puts on the server whatever the machine's load does to throughput.
func compare(api, floor string, d time.Duration, conc, rounds int, only string, apiPID, floorPID int, prof profiler) error {
	setupClient := newClient(16)
	key, ids, err := setUpN(setupClient, api, 1000)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	cursors, err := listCursors(setupClient, api)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	randomID := func() int64 { return ids[rand.IntN(len(ids))] }
	// A page of 100 that starts at a random seeded tweet and stays inside
	// them, so every row has its author: after an id on the floor, after a
	// cursor on the API, which is how its clients page (after_id is
	// deprecated, and looks the id's position up first).
	randomPage := func() int64 { return ids[rand.IntN(len(ids)-100)] - 1 }
	listPage := map[string]func() string{
		api:   func() string { return "cursor=" + cursors[rand.IntN(len(cursors))] },
		floor: func() string { return fmt.Sprintf("after_id=%d", randomPage()) },
	}
	scenarios := func(base string) []scenario {
		return filter(only, []scenario{
			{"GET /tweets/{random id}", func(c *http.Client) (int, int64, error) {
				return expect(http.StatusOK)(call(c, http.MethodGet, fmt.Sprintf("%s/tweets/%d", base, randomID()), "", ""))
			}},
			{"POST /tweets with key", func(c *http.Client) (int, int64, error) {
				return expect(http.StatusCreated)(call(c, http.MethodPost, base+"/tweets", `{"text":"bench tweet"}`, key))
			}},
			{"GET /tweets?limit=100", func(c *http.Client) (int, int64, error) {
				return expect(http.StatusOK)(call(c, http.MethodGet, fmt.Sprintf("%s/tweets?limit=100&%s", base, listPage[base]()), "", ""))
			}},
			{"PATCH /tweets/{id} with key", func(c *http.Client) (int, int64, error) {
				body := fmt.Sprintf(`{"text":"patched %d"}`, rand.IntN(1e6))
				return expect(http.StatusOK)(call(c, http.MethodPatch, fmt.Sprintf("%s/tweets/%d", base, randomID()), body, key))
			}},
		})
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
	all := make([][2]result, n)
	roundRates := make([][2][]float64, n) // req/s of each round, for the medians

	fmt.Printf("bench: API %s vs floor %s, %d clients, %s per run, %d rounds (API and floor alternate)\n",
		api, floor, conc, d, rounds)
	// Warm both: connections, caches, the runtime.
	for _, t := range targets {
		for _, s := range t.scenarios {
			measure(t.client, s, conc, d/5)
		}
	}
	for round := 1; round <= rounds; round++ {
		for i := range n {
			for ti, t := range targets {
				var profiled func() error
				if ti == 0 {
					profiled = prof.start(fmt.Sprintf("%s-round%d", t.scenarios[i].name, round), d)
				}
				cpu0 := cpuTime(t.pid)
				r := measure(t.client, t.scenarios[i], conc, d)
				r.cpu = cpuTime(t.pid) - cpu0
				if profiled != nil {
					if err := profiled(); err != nil {
						return err
					}
				}
				fmt.Printf("  round %d  %-28s %-5s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  CPU %6.1f µs/req  errors %d\n",
					round, t.scenarios[i].name, t.name, rate(r), pct(r.latencies, 50), pct(r.latencies, 99), cpuPerRequest(r), r.failures)
				roundRates[i][ti] = append(roundRates[i][ti], rate(r))
				all[i][ti].cpu += r.cpu
				all[i][ti].latencies = append(all[i][ti].latencies, r.latencies...)
				all[i][ti].failures += r.failures
				all[i][ti].elapsed += r.elapsed
			}
		}
	}

	fmt.Printf("\n%-28s %9s %9s %6s %8s %8s %8s %8s %6s %8s %8s %6s %7s\n", "scenario",
		"api req/s", "floor", "ratio", "api p50", "floor", "api p99", "floor", "ratio", "api CPU", "floor", "ratio", "errors")
	fmt.Println("(req/s: the median round; p50, p99 and CPU over all rounds)")
	failed := 0
	for i := range n {
		a, f := all[i][0], all[i][1]
		ma, mf := median(roundRates[i][0]), median(roundRates[i][1])
		fmt.Printf("%-28s %9.0f %9.0f %5.2fx %8.2f %8.2f %8.2f %8.2f %5.2fx %8.1f %8.1f %5.2fx %3d/%-3d\n", targets[0].scenarios[i].name,
			ma, mf, ma/mf,
			pct(a.latencies, 50), pct(f.latencies, 50), pct(a.latencies, 99), pct(f.latencies, 99),
			pct(a.latencies, 99)/pct(f.latencies, 99),
			cpuPerRequest(a), cpuPerRequest(f), cpuPerRequest(a)/cpuPerRequest(f), a.failures, f.failures)
		failed += a.failures + f.failures
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

// filter keeps the scenarios whose name contains only (all when it is empty).
func filter(only string, all []scenario) []scenario {
	var kept []scenario
	for _, s := range all {
		if strings.Contains(s.name, only) {
			kept = append(kept, s)
		}
	}
	return kept
}

func rate(r result) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.latencies)) / r.elapsed.Seconds()
}

// expect turns a status other than want into an error, so it counts as one.
func expect(want int) func(int, int64, error) (int, int64, error) {
	return func(status int, id int64, err error) (int, int64, error) {
		if err == nil && status != want {
			err = fmt.Errorf("status %d, want %d", status, want)
		}
		return status, 0, err
	}
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

func cpuPerRequest(r result) float64 {
	if len(r.latencies) == 0 {
		return 0
	}
	return float64(r.cpu.Microseconds()) / float64(len(r.latencies))
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
	secs := max(1, int(d.Seconds())-1)
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", p.url, secs))
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
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
