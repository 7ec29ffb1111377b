// Command pagecheck checks, against a running stack, that a client following
// the Link header sees every committed tweet exactly once, also when a
// transaction holds a lower id open while higher ids commit: those are
// listed while it is open, and it after them once it commits.
//
// It writes to the database directly: one connection inserts a tweet and
// keeps its transaction open while other connections commit tweets with
// higher ids; then it commits. Meanwhile two followers read over HTTP, one
// from the start of GET /tweets and one from the point where the check began,
// following Link and, at the end of the list, polling from Next-Cursor (the
// second starts with the deprecated after_id). Tweets inserted directly are
// listed once the API's sweep numbers them, within a second. Every
// tweet the check committed must reach each follower exactly once, and no
// follower may see any id twice. The check's tweets are deleted afterwards.
//
//	go -C devtools run ./pagecheck -url http://127.0.0.1:5000 \
//	  -db postgres://twitter:twitter@127.0.0.1:5432/twitter?sslmode=disable
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	if err := run(os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "pagecheck: FAIL:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string) error {
	apiPort, dbPort := or(getenv("API_PORT"), "5000"), or(getenv("DB_PORT"), "5432")
	fs := flag.NewFlagSet("pagecheck", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:"+apiPort, "API base URL (loopback only)")
	dsn := fs.String("db", "postgres://twitter:twitter@127.0.0.1:"+dbPort+"/twitter?sslmode=disable",
		"the same stack's database (loopback only)")
	writers := fs.Int("writers", 4, "connections committing higher ids while the low one is held")
	per := fs.Int("per-writer", 25, "tweets each writer commits")
	limit := fs.Int("limit", 7, "page size the followers ask for")
	wait := fs.Duration("wait", 10*time.Second, "how long committed tweets may take to be listed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := loopback(*base); err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	if err := loopback(*dsn); err != nil {
		return fmt.Errorf("-db: %w", err)
	}
	if *writers < 1 || *writers > 32 || *per < 1 || *per > 1000 || *limit < 1 || *limit > 200 {
		return errors.New("-writers 1..32, -per-writer 1..1000, -limit 1..200")
	}
	if *wait <= 0 || *wait > time.Minute {
		return errors.New("-wait is above 0 and at most 1m")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute+*wait)
	defer cancel()
	c := &checker{ctx: ctx, base: strings.TrimRight(*base, "/"), http: &http.Client{Timeout: 10 * time.Second}}

	conn, err := pgx.Connect(ctx, *dsn)
	if err != nil {
		return fmt.Errorf("connect to the database: %w", err)
	}
	defer conn.Close(context.Background())
	var startID int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM tweets").Scan(&startID); err != nil {
		return fmt.Errorf("read the newest id: %w", err)
	}
	limitQ := fmt.Sprintf("limit=%d", *limit)
	followers := []*follower{
		newFollower("from the start", "/tweets?"+limitQ),
		newFollower(fmt.Sprintf("from after_id=%d", startID), fmt.Sprintf("/tweets?%s&after_id=%d", limitQ, startID)),
	}
	// The follower from the start first catches up with what exists.
	for _, f := range followers {
		if err := c.catchUp(f); err != nil {
			return err
		}
	}
	fmt.Printf("pagecheck: %s, %d writers x %d tweets, pages of %d\n", c.base, *writers, *per, *limit)
	fmt.Printf("  existing tweets read from the start: %d\n", followers[0].count())

	var mine []int64
	defer func() { // leave the dev database as it was
		if len(mine) > 0 {
			_, _ = conn.Exec(context.Background(), "DELETE FROM tweets WHERE id = ANY($1)", mine)
		}
	}()

	held, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer held.Rollback(context.Background()) //nolint:errcheck // a no-op once committed
	var heldID int64
	if err := held.QueryRow(ctx, "INSERT INTO tweets (text) VALUES ('pagecheck: held open') RETURNING id").Scan(&heldID); err != nil {
		return fmt.Errorf("insert the held tweet: %w", err)
	}
	mine = append(mine, heldID)

	written, err := write(ctx, *dsn, *writers, *per)
	mine = append(mine, written...)
	if err != nil {
		return err
	}
	var above int
	for _, id := range written {
		if id > heldID {
			above++
		}
	}
	fmt.Printf("  held id %d open; committed %d tweets, %d of them with higher ids\n", heldID, len(written), above)

	// An open insert holds nothing back: what committed is listed once
	// the API's sweep numbers it, while the low id is still open.
	heldSince := time.Now()
	for {
		listed := true
		for _, f := range followers {
			if err := c.catchUp(f); err != nil {
				return err
			}
			for _, id := range written {
				if f.times(id) == 0 {
					listed = false
				}
			}
		}
		if listed {
			break
		}
		if time.Since(heldSince) > *wait {
			if err := report(followers, written); err != nil {
				return err
			}
			return fmt.Errorf("the committed tweets were not listed within %s while the held one was open", *wait)
		}
		time.Sleep(5 * time.Millisecond) // a poller's interval
	}
	fmt.Printf("  all %d committed listed while the held one was open, %.1f ms after the writes\n",
		len(written), float64(time.Since(heldSince).Microseconds())/1000)

	if err := held.Commit(ctx); err != nil {
		return fmt.Errorf("commit the held tweet: %w", err)
	}
	committed := time.Now()
	deadline := committed.Add(*wait)
	for {
		done := true
		for _, f := range followers {
			if err := c.catchUp(f); err != nil {
				return err
			}
			for _, id := range mine {
				if f.times(id) == 0 {
					done = false
				}
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			if err := report(followers, mine); err != nil {
				return err
			}
			return fmt.Errorf("not all listed within %s", *wait)
		}
		time.Sleep(5 * time.Millisecond) // a poller's interval
	}
	fmt.Printf("  all %d listed %.1f ms after the held commit\n", len(mine), float64(time.Since(committed).Microseconds())/1000)
	if err := report(followers, mine); err != nil {
		return err
	}
	fmt.Println("pagecheck: OK: every committed tweet seen exactly once by each follower")
	return nil
}

// report fails when a follower missed one of ids or saw any id twice.
func report(followers []*follower, ids []int64) error {
	var problems []string
	for _, f := range followers {
		missing := 0
		for _, id := range ids {
			if f.times(id) == 0 {
				missing++
			}
		}
		dups := f.duplicates()
		fmt.Printf("  follower %-22s pages %4d  ids seen %5d  missing %d  twice %d\n",
			f.name, f.pages, f.count(), missing, len(dups))
		if missing > 0 {
			problems = append(problems, fmt.Sprintf("%s missed %d committed tweets", f.name, missing))
		}
		if len(dups) > 0 {
			problems = append(problems, fmt.Sprintf("%s saw ids %v more than once", f.name, dups))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// write commits per tweets on each of n connections of its own, at once.
func write(ctx context.Context, dsn string, n, per int) ([]int64, error) {
	var (
		mu   sync.Mutex
		ids  []int64
		errs []error
		wg   sync.WaitGroup
	)
	for w := range n {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("writer %d: connect: %w", w, err))
				mu.Unlock()
				return
			}
			defer conn.Close(context.Background())
			for i := range per {
				var id int64
				err := conn.QueryRow(ctx, "INSERT INTO tweets (text) VALUES ($1) RETURNING id",
					fmt.Sprintf("pagecheck: writer %d tweet %d", w, i)).Scan(&id)
				mu.Lock()
				if err != nil {
					errs = append(errs, fmt.Errorf("writer %d: insert: %w", w, err))
				} else {
					ids = append(ids, id)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	return ids, errors.Join(errs...)
}

type follower struct {
	name  string
	next  string // the URL to read next: a Link target, or the poll URL
	limit string
	pages int
	seen  map[int64]int
}

func newFollower(name, start string) *follower {
	u, _ := url.Parse(start)
	return &follower{name: name, next: start, limit: u.Query().Get("limit"), seen: map[int64]int{}}
}

func (f *follower) times(id int64) int { return f.seen[id] }

func (f *follower) count() int { return len(f.seen) }

func (f *follower) duplicates() []int64 {
	var out []int64
	for id, n := range f.seen {
		if n > 1 {
			out = append(out, id)
		}
	}
	return out
}

type checker struct {
	ctx  context.Context
	base string
	http *http.Client
}

// catchUp follows Link until the list ends; the follower then polls from
// the last page's Next-Cursor, as a client would.
func (c *checker) catchUp(f *follower) error {
	for {
		ids, link, cursor, err := c.page(f.next)
		if err != nil {
			return fmt.Errorf("follower %s: %w", f.name, err)
		}
		f.pages++
		for _, id := range ids {
			f.seen[id]++
		}
		if link == "" {
			if cursor == "" {
				return fmt.Errorf("follower %s: GET %s: no Next-Cursor", f.name, f.next)
			}
			f.next = fmt.Sprintf("/tweets?limit=%s&cursor=%s", f.limit, url.QueryEscape(cursor))
			return nil
		}
		f.next = link
	}
}

// page GETs path and returns the tweet ids, the rel="next" target and
// Next-Cursor.
func (c *checker) page(path string) ([]int64, string, string, error) {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, "", "", err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, "", "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", "", fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	var tweets []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(body, &tweets); err != nil {
		return nil, "", "", fmt.Errorf("GET %s: %w", path, err)
	}
	ids := make([]int64, len(tweets))
	for i, t := range tweets {
		ids[i] = t.ID
	}
	return ids, nextLink(resp.Header.Get("Link")), resp.Header.Get("Next-Cursor"), nil
}

// nextLink returns the target of `<target>; rel="next"`, or "".
func nextLink(h string) string {
	for part := range strings.SplitSeq(h, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if ok && strings.Contains(params, `rel="next"`) {
			return strings.Trim(strings.TrimSpace(target), "<>")
		}
	}
	return ""
}

func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" {
		return fmt.Errorf("must point at 127.0.0.1 or localhost, got %q", h)
	}
	return nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
