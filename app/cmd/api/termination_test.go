package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
)

// child is the service running as a separate process (see TestMain).
type child struct {
	cmd    *exec.Cmd
	base   string
	out    *gbytes.Buffer
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's verdict, once exited is closed
}

// startChild starts the service as a process with env added to this one's,
// and waits until it answers /readyz.
func startChild(env ...string) *child {
	GinkgoHelper()
	port := freePort()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), append([]string{execEnv + "=1", "PORT=" + strconv.Itoa(port), "ADMIN_ADDR=127.0.0.1:0"}, env...)...)
	c := &child{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d", port), out: gbytes.NewBuffer(), exited: make(chan struct{})}
	cmd.Stdout = c.out
	cmd.Stderr = c.out
	Expect(cmd.Start()).To(Succeed())
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	DeferCleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill()
			<-c.exited
		}
	})
	Eventually(func() (int, error) {
		select {
		case <-c.exited:
			return 0, StopTrying(fmt.Sprintf("the service exited early: %v\n%s", c.err, c.out.Contents()))
		default:
		}
		r, err := client.Get(c.base + "/readyz")
		if err != nil {
			return 0, err
		}
		r.Body.Close()
		return r.StatusCode, nil
	}).WithTimeout(30 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal(http.StatusOK))
	return c
}

// sent is one request of the load, as its client saw it.
type sent struct {
	at     time.Time
	create bool
	status int  // 0 when the request failed without a response
	closed bool // the response asked for the connection to be closed
	err    error
}

var _ = Describe("the termination contract", func() {
	It("on SIGTERM: /readyz 503 at once, serving through SHUTDOWN_DELAY, a drain, exit 0; no request sent before the flip fails", func(ctx SpecContext) {
		const (
			clients = 16
			delay   = time.Second
			timeout = 5 * time.Second
		)
		// A pool that stays open: the spec is about shutdown, not about
		// connecting to PostgreSQL on a loaded machine.
		// The load is one client's anonymous writes: no rate limit.
		c := startChild("DATABASE_URL="+tdb.DSN, "RATE_LIMIT_ANONYMOUS_WRITES=0", "SHUTDOWN_DELAY="+delay.String(), "SHUTDOWN_TIMEOUT="+timeout.String(),
			"DB_MAX_OPEN_CONNS=10", "DB_MAX_IDLE_CONNS=10")

		// Keep-alive connections, as a load balancer or a busy client uses.
		load := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}

		By("warming up: the pool's connections are open before the measured load")
		Eventually(func() []int {
			statuses := make([]int, clients)
			var warm sync.WaitGroup
			for i := range clients {
				warm.Go(func() {
					resp, err := load.Post(c.base+"/tweets", "application/json", strings.NewReader(`{"text":"warm-up"}`))
					if err == nil {
						statuses[i] = resp.StatusCode
						resp.Body.Close()
					}
				})
			}
			warm.Wait()
			return statuses
		}).WithContext(ctx).WithTimeout(30 * time.Second).Should(HaveEach(http.StatusCreated))
		var (
			mu       sync.Mutex
			requests []sent
			wg       sync.WaitGroup
		)
		stop := make(chan struct{})
		for i := range clients {
			wg.Go(func() {
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					s := sent{at: time.Now(), create: n%2 == 0}
					var resp *http.Response
					var err error
					if s.create {
						resp, err = load.Post(c.base+"/tweets", "application/json",
							strings.NewReader(fmt.Sprintf(`{"text":"client %d request %d"}`, i, n)))
					} else {
						resp, err = load.Get(c.base + "/tweets?limit=5")
					}
					if err == nil {
						s.status, s.closed = resp.StatusCode, resp.Close
						resp.Body.Close()
					}
					s.err = err
					mu.Lock()
					requests = append(requests, s)
					mu.Unlock()
					if err != nil {
						time.Sleep(5 * time.Millisecond) // the port is closed: do not spin
					}
				}
			})
		}

		By("load running, then SIGTERM")
		Eventually(func() int { mu.Lock(); defer mu.Unlock(); return len(requests) }).WithTimeout(20 * time.Second).Should(BeNumerically(">", 100))
		sigterm := time.Now()
		Expect(c.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())

		By("/readyz flips to 503 at once")
		var flipped time.Time
		Eventually(func() int {
			r, err := client.Get(c.base + "/readyz")
			if err != nil {
				return 0
			}
			r.Body.Close()
			flipped = time.Now()
			return r.StatusCode
		}).WithPolling(5*time.Millisecond).WithTimeout(delay).Should(Equal(http.StatusServiceUnavailable),
			"readiness must flip before the delay ends, while the server still serves")

		By("exit 0 within the delay and the drain budget")
		Eventually(c.exited).WithTimeout(delay + timeout + 2*time.Second).Should(BeClosed())
		took := time.Since(sigterm)
		close(stop)
		wg.Wait()
		Expect(c.err).NotTo(HaveOccurred(), "exit status; output:\n%s", c.out.Contents())
		Expect(took).To(BeNumerically(">=", delay), "it kept serving through SHUTDOWN_DELAY")
		Expect(c.out).To(gbytes.Say(`"msg":"shutting down`))
		Expect(c.out).To(gbytes.Say(`"msg":"stopped"`))

		By("every request sent before the flip was observed succeeded; so did later ones during the delay, each closing its connection")
		var before, during, failedBefore, created, keptOpen int
		for _, s := range requests {
			ok := s.err == nil && (s.status == http.StatusOK || s.status == http.StatusCreated)
			if s.create && s.status == http.StatusCreated {
				created++
			}
			switch {
			case s.at.Before(flipped):
				before++
				if !ok {
					failedBefore++
					AddReportEntry("failed before the flip", fmt.Sprintf("%s status=%d err=%v", s.at.Format(time.RFC3339Nano), s.status, s.err))
				}
			case ok:
				during++
				if !s.closed {
					keptOpen++
				}
			}
		}
		AddReportEntry("termination under load", fmt.Sprintf("%d requests before the flip, %d failed; %d served after it; exit %s after SIGTERM",
			before, failedBefore, during, took.Round(time.Millisecond)))
		Expect(before).To(BeNumerically(">", 100))
		Expect(failedBefore).To(BeZero())
		Expect(during).To(BeNumerically(">", 0), "requests after the flip were still served during the delay")
		Expect(keptOpen).To(BeZero(), "responses while draining carry Connection: close")

		By("every acknowledged create is stored")
		var stored int
		Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM tweets WHERE text LIKE 'client %'").Scan(&stored)).To(Succeed())
		Expect(stored).To(Equal(created))
	})

	It("answers a create cut off by the end of the drain 503 only when it left no row", func(ctx SpecContext) {
		const creates = 4
		c := startChild("DATABASE_URL="+tdb.DSN, "RATE_LIMIT_ANONYMOUS_WRITES=0", "SHUTDOWN_DELAY=0", "SHUTDOWN_TIMEOUT=1s",
			"REQUEST_TIMEOUT=30s")
		By("creates waiting on tweet_order's lock, past the drain budget")
		lock := tdb.HoldOrder(ctx)
		statuses := make(chan int, creates)
		for i := range creates {
			go func() {
				status := 0
				resp, err := client.Post(c.base+"/tweets", "application/json", strings.NewReader(fmt.Sprintf(`{"text":"cut off %d"}`, i)))
				if err == nil {
					status = resp.StatusCode
					resp.Body.Close()
				}
				statuses <- status
			}()
		}
		Eventually(func() (int, error) { return tdb.ServiceLockWaits(ctx) }).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).
			Should(BeNumerically(">=", 1), "a create's statement waits on the lock")

		Expect(c.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Eventually(c.exited).WithTimeout(10 * time.Second).Should(BeClosed())
		Eventually(c.out).Should(gbytes.Say("drain budget spent"))
		created := 0
		for range creates {
			var status int
			Eventually(statuses).WithTimeout(5 * time.Second).Should(Receive(&status))
			Expect(status).To(BeElementOf(http.StatusCreated, http.StatusServiceUnavailable, 0), "0: no answer before the exit")
			if status == http.StatusCreated {
				created++
			}
		}

		By("the lock released after the process exited: nothing commits behind the 503s")
		Expect(lock.Rollback(ctx)).To(Succeed())
		Consistently(func() (int, error) {
			var n int
			err := tdb.QueryRow(ctx, "SELECT count(*) FROM tweets WHERE text LIKE 'cut off %'").Scan(&n)
			return n, err
		}).WithTimeout(time.Second).WithPolling(100 * time.Millisecond).Should(Equal(created))
	})

	It("exits at once on a second signal, without waiting for the delay", func() {
		c := startChild("DATABASE_URL="+tdb.DSN, "SHUTDOWN_DELAY=5s", "SHUTDOWN_TIMEOUT=4s")
		Expect(c.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Eventually(c.out).WithTimeout(5 * time.Second).Should(gbytes.Say("shutting down"))
		Expect(c.cmd.Process.Signal(syscall.SIGTERM)).To(Succeed())
		Eventually(c.exited).WithTimeout(3 * time.Second).Should(BeClosed())
		var exitErr *exec.ExitError
		Expect(errors.As(c.err, &exitErr)).To(BeTrue(), "killed by the signal: %v", c.err)
	})
})
