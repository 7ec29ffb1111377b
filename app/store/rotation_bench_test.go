package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// BenchmarkRotateKey measures one key rotation (with the overlap) of a user
// that has rotated past times before: the cost must not grow with past. It
// reports the user's keys left at the end too.
// docs/reliability-and-security.md quotes it; run it with
//
//	bash devtools/test.sh go test -run '^$' -bench RotateKey -benchtime 300x ./app/store
func BenchmarkRotateKey(b *testing.B) {
	for _, past := range []int{1, 6000} {
		b.Run(fmt.Sprintf("after=%d", past), func(b *testing.B) {
			ctx := context.Background()
			db := benchDB(b)
			users := store.NewUsers(db)
			key, hash := twitter.NewAPIKey()
			u, err := users.Create(ctx, twitter.NewUser{Username: "rotor", Email: "rotor@example.com"}, hash)
			if err != nil {
				b.Fatal(err)
			}
			rotate := func() {
				next, hash := twitter.NewAPIKey()
				if _, err := users.RotateKey(ctx, u.ID, key, hash, time.Hour); err != nil {
					b.Fatal(err)
				}
				key = next
			}
			for range past {
				rotate()
			}
			for b.Loop() {
				rotate()
			}
			var keys int
			err = db.Bun().NewRaw("SELECT count(*) FROM api_keys WHERE user_id = ?", u.ID).Scan(ctx, &keys)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(keys), "keys")
		})
	}
}

// benchDB is a fresh migrated database for one benchmark, dropped after it.
func benchDB(b *testing.B) *store.DB {
	b.Helper()
	ctx := context.Background()
	admin, err := testdb.AdminURL()
	if err != nil {
		b.Skip(err)
	}
	name := testdb.UniqueName("tw_bench")
	if err := testdb.CreateTemplate(ctx, admin, name); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = testdb.Discard(ctx, admin, name) })
	dsn, err := testdb.WithDatabase(admin, name)
	if err != nil {
		b.Fatal(err)
	}
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 2, MaxIdleConns: 2})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}
