// Command connflood holds many connections open against the API from one
// client, idle keep-alives or slowloris requests, for make memory-check.
// Why not a kept tool: slowhttptest and tcpkali are not in the dev image
// and neither does both modes nor reports what the server did with each
// connection; this is a dialer and two loops.
//
//	go -C proving run ./connflood -addr api:5000 -conns 20000 -mode idle -hold 20s
//
// idle: each connection sends GET /healthz, reads the answer, and stays
// open, idle. slowloris: each sends a request line and one header, then a
// header line every -every, never ending the headers. At the end it
// prints how the server treated the connections: answered (idle), refused
// (a 429 or 503 answer: over a connection cap), closed by the server, or
// still open; it exits non-zero only when it could not run.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "connflood:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("connflood", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:5000", "API host:port, on loopback or a private (container) network")
	conns := fs.Int("conns", 1000, "connections to open")
	mode := fs.String("mode", "idle", "idle or slowloris")
	hold := fs.Duration("hold", 20*time.Second, "how long to hold the connections once all are dialled")
	every := fs.Duration("every", 2*time.Second, "slowloris: time between header lines")
	dialers := fs.Int("dialers", 200, "connections dialled at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *conns < 1 || *conns > 50_000 || *hold > 2*time.Minute || (*mode != "idle" && *mode != "slowloris") {
		return errors.New("-conns is 1 to 50000, -hold at most 2m, -mode idle or slowloris")
	}
	if err := checkPrivate(*addr); err != nil {
		return err
	}
	// Every connection is a file: past the limit, dials fail here, not there.
	var files syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &files); err != nil {
		return err
	}
	if uint64(*conns)+64 > files.Cur {
		return fmt.Errorf("-conns %d needs more open files than this process may have (%d): split the flood over processes", *conns, files.Cur)
	}

	start := time.Now()
	outcome := make([]string, *conns)
	held := make([]net.Conn, *conns)
	work := make(chan int)
	var wg sync.WaitGroup
	for range *dialers {
		wg.Go(func() {
			for i := range work {
				held[i], outcome[i] = open(*addr, *mode)
			}
		})
	}
	for i := range *conns {
		work <- i
	}
	close(work)
	wg.Wait()
	dialled := time.Since(start)

	// Hold: slowloris connections keep sending a header line; idle ones
	// send nothing.
	end := time.Now().Add(*hold)
	for time.Now().Before(end) {
		time.Sleep(min(*every, time.Until(end)))
		if *mode != "slowloris" {
			continue
		}
		for i, c := range held {
			if c == nil {
				continue
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte("X-Slow: 1\r\n")); err != nil {
				_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				outcome[i] = finalState(c, "closed by the server before the hold ended")
				c.Close()
				held[i] = nil
			}
		}
	}
	// One short read deadline for all, so the last is looked at as soon
	// as the first.
	check := time.Now().Add(50 * time.Millisecond)
	for _, c := range held {
		if c != nil {
			_ = c.SetReadDeadline(check)
		}
	}
	for i, c := range held {
		if c != nil {
			outcome[i] = finalState(c, outcome[i])
			c.Close()
		}
	}

	counts := map[string]int{}
	for _, o := range outcome {
		counts[o]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return counts[keys[a]] > counts[keys[b]] })
	fmt.Printf("connflood: %d %s connections to %s (open files allowed: %d), dialled in %s, held %s\n",
		*conns, *mode, *addr, files.Cur, dialled.Round(time.Millisecond), *hold)
	for _, k := range keys {
		fmt.Printf("  %6d  %s\n", counts[k], k)
	}
	return nil
}

// open dials one connection and starts its request; it returns the
// connection when it is to be held, and what happened.
func open(addr, mode string) (net.Conn, string) {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, "dial failed: " + short(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if mode == "slowloris" {
		if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: api\r\n")); err != nil {
			c.Close()
			return nil, "write failed: " + short(err)
		}
		return c, "open at the end of the hold"
	}
	if _, err := c.Write([]byte("GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")); err != nil {
		c.Close()
		return nil, "write failed: " + short(err)
	}
	status, err := readStatus(c)
	if err != nil {
		c.Close()
		return nil, "no answer: " + short(err)
	}
	if status != "200" {
		c.Close()
		return nil, "refused: " + status
	}
	return c, "answered, then open and idle at the end of the hold"
}

// finalState tells whether the server closed or answered c meanwhile,
// once c's read deadline is near.
func finalState(c net.Conn, open string) string {
	status, err := readStatus(c)
	var ne net.Error
	switch {
	case err == nil:
		return "refused or timed out by the server: " + status
	case errors.As(err, &ne) && ne.Timeout():
		return open
	}
	return "closed by the server before the hold ended"
}

// readStatus reads the start of a response and returns its status code.
func readStatus(c net.Conn) (string, error) {
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if n >= 12 && bytes.HasPrefix(buf, []byte("HTTP/1.")) {
		return string(buf[9:12]), nil
	}
	if err == nil {
		err = fmt.Errorf("not an HTTP response: %q", buf[:n])
	}
	return "", err
}

// checkPrivate refuses a target outside loopback and private networks:
// this is a flood, for our own test containers only.
func checkPrivate(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		if !ip.IsLoopback() && !ip.IsPrivate() {
			return fmt.Errorf("-addr %s resolves to %s, neither loopback nor a private network", addr, ip)
		}
	}
	return nil
}

func short(err error) string {
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Err != nil {
		return ne.Op + ": " + ne.Err.Error()
	}
	return err.Error()
}
