package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// soakOptions drive -soak: a steady mix of reads and creates at a fixed rate
// while someone else restarts or kills replicas. SIGUSR1 closes the current
// phase and opens the next; SIGTERM, SIGINT or -max-duration end the run.
type soakOptions struct {
	base     string
	rate     int
	conc     int
	phases   []string
	maxDur   time.Duration
	idsOut   string
	readyOut string
}

type phaseStats struct {
	name      string
	started   time.Time
	ended     time.Time
	requests  int
	failed    int
	creates   int
	failures  map[string]int // error or status, counted
	maxFlight int64
}

func soak(client *http.Client, o soakOptions) error {
	key, ids, err := setUp(client, o.base)
	if err != nil {
		return fmt.Errorf("set up: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.maxDur)
	defer cancel()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	var (
		mu       sync.Mutex
		phase    atomic.Int32
		inFlight atomic.Int64
		stats    = make([]*phaseStats, len(o.phases))
		created  []int64
	)
	for i, name := range o.phases {
		stats[i] = &phaseStats{name: name, failures: map[string]int{}}
	}
	stats[0].started = time.Now()

	// One token a request, at a steady rate: the load does not rise or fall
	// with the replicas' speed, so failures are comparable across phases.
	tokens := make(chan struct{}, o.conc)
	go func() {
		tick := time.NewTicker(time.Second / time.Duration(o.rate))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				select {
				case tokens <- struct{}{}:
				default: // every client is busy; the load is saturated
				}
			}
		}
	}()

	ops := []func() (string, int, int64, error){
		func() (string, int, int64, error) {
			st, id, err := call(client, http.MethodGet, fmt.Sprintf("%s/tweets/%d", o.base, ids[rand.IntN(len(ids))]), "", "")
			return "GET /tweets/{id}", st, id, err
		},
		func() (string, int, int64, error) {
			st, id, err := call(client, http.MethodGet, o.base+"/tweets?limit=20", "", "")
			return "GET /tweets", st, id, err
		},
		func() (string, int, int64, error) {
			st, id, err := call(client, http.MethodPost, o.base+"/tweets", `{"text":"soak tweet"}`, key)
			return "POST /tweets", st, id, err
		},
	}
	var wg sync.WaitGroup
	for range o.conc {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-tokens:
				}
				p := stats[phase.Load()]
				n := inFlight.Add(1)
				// Reads twice as often as creates.
				op := ops[rand.IntN(4)%3]
				name, st, id, err := op()
				inFlight.Add(-1)
				mu.Lock()
				p.requests++
				p.maxFlight = max(p.maxFlight, n)
				switch {
				case err != nil:
					p.failed++
					p.failures[name+": "+shortErr(err)]++
				case st >= 300:
					p.failed++
					p.failures[fmt.Sprintf("%s: status %d", name, st)]++
				case id > 0:
					p.creates++
					created = append(created, id)
				}
				mu.Unlock()
			}
		})
	}
	if o.readyOut != "" {
		// Tells a driving script the load is on.
		if err := os.WriteFile(o.readyOut, []byte("running\n"), 0o644); err != nil {
			cancel()
			return err
		}
	}
	fmt.Printf("soak: %s, %d req/s, %d clients, phases %s\n", o.base, o.rate, o.conc, strings.Join(o.phases, ","))
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case s := <-sigs:
			if s != syscall.SIGUSR1 {
				break wait
			}
			mu.Lock()
			i := int(phase.Load())
			if i+1 < len(stats) {
				now := time.Now()
				stats[i].ended, stats[i+1].started = now, now
				phase.Store(int32(i + 1))
			}
			mu.Unlock()
		}
	}
	cancel()
	wg.Wait()
	stats[phase.Load()].ended = time.Now()

	fmt.Printf("%-10s %9s %7s %8s %9s %9s\n", "phase", "requests", "failed", "creates", "seconds", "inflight")
	for _, p := range stats {
		if p.started.IsZero() {
			continue
		}
		fmt.Printf("%-10s %9d %7d %8d %9.1f %9d\n", p.name, p.requests, p.failed, p.creates, p.ended.Sub(p.started).Seconds(), p.maxFlight)
		for what, n := range p.failures {
			fmt.Printf("  %s: %d× %s\n", p.name, n, what)
		}
	}
	// Every acknowledged create must be readable through the balancer too.
	lost := 0
	for _, id := range created {
		if st, _, err := call(client, http.MethodGet, fmt.Sprintf("%s/tweets/%d", o.base, id), "", ""); err != nil || st != http.StatusOK {
			lost++
		}
	}
	fmt.Printf("acknowledged creates: %d, readable afterwards: %d\n", len(created), len(created)-lost)
	if o.idsOut != "" {
		var b strings.Builder
		for _, id := range created {
			fmt.Fprintln(&b, id)
		}
		if err := os.WriteFile(o.idsOut, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if lost > 0 {
		return fmt.Errorf("%d acknowledged tweets are missing", lost)
	}
	return nil
}

func shortErr(err error) string {
	var ue interface{ Unwrap() error }
	for errors.As(err, &ue) && ue.Unwrap() != nil {
		err = ue.Unwrap()
	}
	return err.Error()
}
