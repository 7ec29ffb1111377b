// Command slowupload holds many slow request bodies open against the API at
// once, as slow or hostile clients would, while other clients keep making
// ordinary requests. It prints what each group got, and fails when an
// ordinary request failed. The caller measures the API's memory meanwhile.
//
//	go -C proving run ./slowupload -url http://127.0.0.1:5000 -uploads 200 -size 1048576 -over 3s
//
// With -multipart each upload is a multipart/form-data file instead, and
// every one must be refused (413 or 415): none is ever read into memory.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "slowupload:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("slowupload", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:5000", "API base URL (loopback only)")
	uploads := fs.Int("uploads", 200, "concurrent slow uploads")
	size := fs.Int("size", 1<<20, "bytes per upload body")
	over := fs.Duration("over", 3*time.Second, "time each upload takes to send its body")
	others := fs.Int("others", 4, "clients making ordinary requests meanwhile")
	multi := fs.Bool("multipart", false, "send multipart/form-data files, which must all be refused with 413 or 415")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := url.Parse(*base)
	if err != nil || (u.Hostname() != "127.0.0.1" && u.Hostname() != "localhost") {
		return fmt.Errorf("-url must point at 127.0.0.1 or localhost, got %q", *base)
	}
	if *uploads < 1 || *uploads > 1000 || *size < 256 || *size > 32<<20 || *over > time.Minute {
		return errors.New("-uploads is 1 to 1000, -size 256 B to 32 MiB, -over at most 1m")
	}

	start := time.Now()
	stop := make(chan struct{})
	var (
		ok, failed atomic.Int64
		failures   sync.Map // reason -> count
		wg         sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range *others {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var resp *http.Response
				var err error
				if n%2 == 0 {
					resp, err = client.Get(*base + "/tweets?limit=5")
				} else {
					resp, err = client.Post(*base+"/tweets", "application/json",
						strings.NewReader(fmt.Sprintf(`{"text":"ordinary %d-%d"}`, i, n)))
				}
				reason := ""
				switch {
				case err != nil:
					reason = err.Error()
				case resp.StatusCode >= 400:
					reason = resp.Status
				}
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if reason == "" {
					ok.Add(1)
				} else {
					failed.Add(1)
					v, _ := failures.LoadOrStore(reason, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}

	statuses := make([]string, *uploads)
	var up sync.WaitGroup
	for i := range *uploads {
		up.Go(func() { statuses[i] = slowUpload(u.Host, i, *size, *over, *multi) })
	}
	up.Wait()
	close(stop)
	wg.Wait()

	counts := map[string]int{}
	for _, s := range statuses {
		counts[s]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Printf("slow uploads: %d x %d KiB, each sent over %s, all at once; done in %s\n",
		*uploads, *size>>10, *over, time.Since(start).Round(time.Millisecond))
	for _, k := range keys {
		fmt.Printf("  %4d  %s\n", counts[k], k)
	}
	fmt.Printf("ordinary requests meanwhile: %d succeeded, %d failed\n", ok.Load(), failed.Load())
	failures.Range(func(k, v any) bool {
		fmt.Printf("  %4d  %s\n", v.(*atomic.Int64).Load(), k)
		return true
	})
	if failed.Load() > 0 || ok.Load() == 0 {
		return errors.New("ordinary requests did not all succeed during the uploads")
	}
	if *multi {
		for _, s := range statuses {
			if !strings.HasPrefix(s, "413 ") && !strings.HasPrefix(s, "415 ") {
				return fmt.Errorf("a multipart upload got %q, not 413 or 415", s)
			}
		}
	}
	return nil
}

// slowUpload sends one POST /tweets whose valid JSON body of size bytes
// (or, with multi, a multipart form of one file) trickles in over the
// given time, and returns the response status or what went wrong.
func slowUpload(host string, i, size int, over time.Duration, multi bool) string {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(over + 30*time.Second))
	ctype := "application/json"
	text := fmt.Sprintf(`{"text":"upload %d"`, i)
	body := text + strings.Repeat(" ", size-len(text)-1) + "}"
	if multi {
		const boundary = "slowuploadboundary"
		ctype = "multipart/form-data; boundary=" + boundary
		part := "--" + boundary + "\r\nContent-Disposition: form-data; name=\"text\"; filename=\"upload.txt\"\r\n" +
			"Content-Type: text/plain\r\n\r\n"
		end := "\r\n--" + boundary + "--\r\n"
		body = part + strings.Repeat("a", size-len(part)-len(end)) + end
	}
	head := fmt.Sprintf("POST /tweets HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", host, ctype, size)

	// The answer may come before the body is sent (a refusal): read it
	// concurrently, and stop sending once it has come.
	answered := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answered <- "no response: " + shortErr(err)
			return
		}
		resp.Body.Close()
		answered <- resp.Status
	}()

	const chunks = 32
	step := len(body) / chunks
	if _, err := io.WriteString(c, head); err != nil {
		return "write: " + shortErr(err)
	}
	tick := time.NewTicker(over / chunks)
	defer tick.Stop()
	for off := 0; off < len(body); off += step {
		select {
		case s := <-answered:
			return s + " (before the whole body was sent)"
		case <-tick.C:
		}
		if _, err := io.WriteString(c, body[off:min(off+step, len(body))]); err != nil {
			select {
			case s := <-answered:
				return s + " (before the whole body was sent)"
			case <-time.After(time.Second):
				return "write: " + shortErr(err)
			}
		}
	}
	return <-answered
}

func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return s
}
