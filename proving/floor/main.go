// Command floor is the benchmark's reference point: a minimal net/http
// server on pgxpool with prepared statements, running the same SQL as the
// API, text for text: sql.go holds copies of the store's statements, which a
// store spec keeps equal, and pgx prepares each once per connection, as the
// store does. `make bench` loads it and the API in turn;
// the API's share of the floor's throughput is the figure that matters.
//
//	DATABASE_URL=postgres://... go -C proving run ./floor -addr 127.0.0.1:5301
//
// It serves only what the benchmark calls: GET /tweets/{id}, GET /tweets
// (limit, after_id), POST /tweets and PATCH /tweets/{id}, with minimal
// validation. It is not a second implementation of the API.
//
// With -list plain, GET /tweets is instead the plainest page there is: id
// order, no author join, no list order (plainListSQL), the reference the
// issue tracker's list targets are set against.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

type author struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

type tweet struct {
	ID        int64     `json:"id"`
	Text      string    `json:"text"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	User      *author   `json:"user"`
}

type server struct {
	pool  *pgxpool.Pool
	plain bool
}

// floorInsertSQL is a plain one-row insert, what the store's did before it
// batched creates (app/store/creates.go), with a position of the floor's own: below zero, from floor_positions, so the
// API's sweep has nothing to number during the floor's rounds (it would
// load the database on the floor's time) and no list the benchmark reads
// shows them.
const floorInsertSQL = `WITH t AS (INSERT INTO tweets (text, user_id, position)
	VALUES ($1, $2, -nextval('floor_positions')) RETURNING *)
SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM t LEFT JOIN users u ON u.id = t.user_id`

// plainListSQL is a page of at most $1 tweets after id $2 in id order,
// without authors: what a list costs with no order to keep.
const plainListSQL = `SELECT id, text, user_id, created_at, updated_at FROM tweets
WHERE id > $2 ORDER BY id LIMIT $1`

func main() {
	addr := flag.String("addr", "127.0.0.1:5301", "listen address (loopback)")
	conns := flag.Int("conns", max(4, 4*runtime.GOMAXPROCS(0)), "pool size, kept open")
	list := flag.String("list", "same", "GET /tweets: same (the store's statement) or plain (id order, no authors)")
	flag.Parse()
	if *list != "same" && *list != "plain" {
		log.Fatal("floor: -list is same or plain")
	}
	if err := run(*addr, *conns, *list == "plain"); err != nil {
		log.Fatal("floor: ", err)
	}
}

func run(addr string, conns int, plain bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		return fmt.Errorf("-addr must be on 127.0.0.1, got %q", addr)
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("DATABASE_URL"))
	if err != nil {
		return err
	}
	cfg.MaxConns, cfg.MinConns = int32(conns), int32(conns)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE SEQUENCE IF NOT EXISTS floor_positions`); err != nil {
		return err
	}
	s := server{pool: pool, plain: plain}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tweets/{id}", s.get)
	mux.HandleFunc("GET /tweets", s.list)
	mux.HandleFunc("POST /tweets", s.create)
	mux.HandleFunc("PATCH /tweets/{id}", s.update)
	srv := &http.Server{Addr: addr, Handler: mux, ReadTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Shutdown(context.Background())
	}()
	log.Printf("floor: serving on %s with %d connections", addr, conns)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// scanTweet reads a row of the store's tweet columns: id, text, user_id,
// created_at, updated_at and the author's username.
func scanTweet(row pgx.Row) (tweet, error) {
	var (
		t        tweet
		userID   *int64
		username *string
	)
	err := row.Scan(&t.ID, &t.Text, &userID, &t.CreatedAt, &t.UpdatedAt, &username)
	if userID != nil && username != nil {
		t.User = &author{ID: *userID, Username: *username}
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, err
}

func (s server) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	t, err := scanTweet(s.pool.QueryRow(r.Context(), getTweetSQL, id))
	if reply(w, err) {
		writeJSON(w, http.StatusOK, t)
	}
}

func (s server) list(w http.ResponseWriter, r *http.Request) {
	limit, after := int64(50), int64(0)
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.ParseInt(v, 10, 64)
	}
	if v := r.URL.Query().Get("after_id"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	if s.plain {
		s.plainList(w, limit, after, r)
		return
	}
	rows, err := s.pool.Query(r.Context(), listTweetsAfterIDSQL, limit+1, after)
	if !reply(w, err) {
		return
	}
	out := make([]tweet, 0, limit+1)
	for rows.Next() {
		var (
			start, position  pgtype.Int8
			id               pgtype.Int8 // NULL on the start's row of an empty page
			text             pgtype.Text
			created, updated pgtype.Timestamptz
			userID           *int64
			username         *string
		)
		err := rows.Scan(&start, &id, &text, &userID, &created, &updated, &username, &position)
		if !reply(w, err) {
			rows.Close()
			return
		}
		if !id.Valid {
			continue
		}
		t := tweet{ID: id.Int64, Text: text.String, CreatedAt: created.Time, UpdatedAt: updated.Time}
		if userID != nil && username != nil {
			t.User = &author{ID: *userID, Username: *username}
		}
		out = append(out, t)
	}
	if !reply(w, rows.Err()) {
		return
	}
	if int64(len(out)) > limit {
		out = out[:limit]
		w.Header().Set("Link", fmt.Sprintf(`</tweets?limit=%d&after_id=%d>; rel="next"`, limit, out[len(out)-1].ID))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s server) plainList(w http.ResponseWriter, limit, after int64, r *http.Request) {
	rows, err := s.pool.Query(r.Context(), plainListSQL, limit+1, after)
	if !reply(w, err) {
		return
	}
	out := make([]tweet, 0, limit+1)
	for rows.Next() {
		var (
			t      tweet
			userID *int64
		)
		if err := rows.Scan(&t.ID, &t.Text, &userID, &t.CreatedAt, &t.UpdatedAt); !reply(w, err) {
			rows.Close()
			return
		}
		if userID != nil {
			t.User = &author{ID: *userID}
		}
		t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
		out = append(out, t)
	}
	if !reply(w, rows.Err()) {
		return
	}
	if int64(len(out)) > limit {
		out = out[:limit]
		w.Header().Set("Link", fmt.Sprintf(`</tweets?limit=%d&after_id=%d>; rel="next"`, limit, out[len(out)-1].ID))
	}
	writeJSON(w, http.StatusOK, out)
}

// actor returns the owner of X-API-Key, nil without one; ok is false when
// a response has been written.
func (s server) actor(w http.ResponseWriter, r *http.Request) (*author, bool) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		return nil, true
	}
	sum := sha256.Sum256([]byte(key))
	var (
		a       author
		email   string
		hash    []byte
		created time.Time
	)
	err := s.pool.QueryRow(r.Context(), authenticateSQL, sum[:]).Scan(&a.ID, &a.Username, &email, &hash, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		http.Error(w, "unknown key", http.StatusUnauthorized)
		return nil, false
	}
	return &a, reply(w, err)
}

func readText(w http.ResponseWriter, r *http.Request) (string, bool) {
	var body struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil || body.Text == "" {
		http.Error(w, "bad body", http.StatusUnprocessableEntity)
		return "", false
	}
	return body.Text, true
}

// idOf is the actor's id as a statement parameter: NULL for none.
func idOf(a *author) *int64 {
	if a == nil {
		return nil
	}
	return &a.ID
}

func (s server) create(w http.ResponseWriter, r *http.Request) {
	text, ok := readText(w, r)
	if !ok {
		return
	}
	a, ok := s.actor(w, r)
	if !ok {
		return
	}
	t, err := scanTweet(s.pool.QueryRow(r.Context(), floorInsertSQL, text, idOf(a)))
	if !reply(w, err) {
		return
	}
	w.Header().Set("Location", "/tweets/"+strconv.FormatInt(t.ID, 10))
	writeJSON(w, http.StatusCreated, t)
}

func (s server) update(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	text, ok := readText(w, r)
	if !ok {
		return
	}
	a, ok := s.actor(w, r)
	if !ok {
		return
	}
	t, err := scanTweet(s.pool.QueryRow(r.Context(), updateTweetSQL, text, id, idOf(a)))
	if errors.Is(err, pgx.ErrNoRows) {
		// As the API: look up why nothing matched.
		var owner *int64
		err = s.pool.QueryRow(r.Context(), tweetOwnerSQL, id).Scan(&owner)
		if reply(w, err) {
			http.Error(w, "forbidden", http.StatusForbidden)
		}
		return
	}
	if !reply(w, err) {
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// reply writes the error's status and reports whether err was nil.
func reply(w http.ResponseWriter, err error) bool {
	switch {
	case err == nil:
		return true
	case errors.Is(err, pgx.ErrNoRows):
		http.Error(w, "not found", http.StatusNotFound)
	default:
		log.Print(err)
		http.Error(w, "error", http.StatusInternalServerError)
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
