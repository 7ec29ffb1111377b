package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// soakOptions drive -soak: a steady mix of reads and creates at a fixed rate
// while someone else restarts or kills replicas. SIGUSR1 closes the current
// phase and opens the next; SIGTERM, SIGINT or -max-duration end the run.
type soakOptions struct {
	base             string
	rate, conc       int
	phases           []string
	maxDur           time.Duration
	idsOut, readyOut string
}

func soak(o soakOptions) error {
	client := newClient(o.conc)
	key, ids, err := setUp(client, o.base, 200)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	// Reads twice as often as creates.
	ops := []vegeta.Targeter{
		get(func() string { return fmt.Sprintf("%s/tweets/%d", o.base, pick(ids)) }),
		get(func() string { return o.base + "/tweets?limit=20" }),
		send(http.MethodPost, func() string { return o.base + "/tweets" }, func() string { return `{"text":"soak tweet"}` }, key),
	}
	mix := func(t *vegeta.Target) error { return ops[rand.IntN(4)%3](t) }

	// A steady rate: the load does not rise or fall with the replicas'
	// speed, so failures are comparable across phases.
	a := vegeta.NewAttacker(vegeta.Client(client), vegeta.Workers(uint64(o.conc)), vegeta.MaxWorkers(uint64(o.conc)))
	results := a.Attack(mix, vegeta.Rate{Freq: o.rate, Per: time.Second}, o.maxDur, "")
	start := time.Now()
	var (
		mu     sync.Mutex
		bounds = []time.Time{start} // each phase's start
	)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		for s := range sigs {
			if s != syscall.SIGUSR1 {
				a.Stop()
				return
			}
			mu.Lock()
			if len(bounds) < len(o.phases) {
				bounds = append(bounds, time.Now())
			}
			mu.Unlock()
		}
	}()
	if o.readyOut != "" {
		// Tells a driving script the load is on.
		if err := os.WriteFile(o.readyOut, []byte("running\n"), 0o644); err != nil {
			a.Stop()
			return err
		}
	}
	fmt.Printf("soak: %s, %d req/s, %d clients, phases %s (vegeta)\n", o.base, o.rate, o.conc, strings.Join(o.phases, ","))
	// What the phases need of each result; bodies are not kept.
	type hit struct {
		at, end time.Time
		failure string // "" when it succeeded
		id      int64  // a create's
	}
	var all []hit
	for res := range results {
		h := hit{at: res.Timestamp, end: res.End(), id: createdID(res)}
		if res.Error != "" || res.Code >= 300 {
			h.failure = res.Method + ": " + res.Error
		}
		all = append(all, h)
	}
	end := time.Now()

	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("%-10s %9s %7s %8s %9s %9s\n", "phase", "requests", "failed", "creates", "seconds", "inflight")
	var created []int64
	for i, from := range bounds {
		to := end
		if i+1 < len(bounds) {
			to = bounds[i+1]
		}
		failed, creates, failures := 0, 0, map[string]int{}
		var spans [][2]time.Time
		for _, h := range all {
			if h.at.Before(from) || !h.at.Before(to) {
				continue
			}
			spans = append(spans, [2]time.Time{h.at, h.end})
			switch {
			case h.failure != "":
				failed++
				failures[h.failure]++
			case h.id > 0:
				creates++
				created = append(created, h.id)
			}
		}
		fmt.Printf("%-10s %9d %7d %8d %9.1f %9d\n", o.phases[i], len(spans), failed, creates, to.Sub(from).Seconds(), maxInFlight(spans))
		for what, n := range failures {
			fmt.Printf("  %s: %d× %s\n", o.phases[i], n, what)
		}
	}
	if o.idsOut != "" {
		var b strings.Builder
		for _, id := range created {
			fmt.Fprintln(&b, id)
		}
		if err := os.WriteFile(o.idsOut, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	// Every acknowledged create must be readable through the balancer too.
	return readable(client, o.base, created)
}

// maxInFlight is the most requests in flight at once among spans (start, end).
func maxInFlight(spans [][2]time.Time) int {
	type event struct {
		at    time.Time
		delta int
	}
	events := make([]event, 0, 2*len(spans))
	for _, s := range spans {
		events = append(events, event{s[0], 1}, event{s[1], -1})
	}
	// Ends before starts at the same instant.
	slices.SortFunc(events, func(a, b event) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return a.delta - b.delta
	})
	n, most := 0, 0
	for _, e := range events {
		n += e.delta
		most = max(most, n)
	}
	return most
}
