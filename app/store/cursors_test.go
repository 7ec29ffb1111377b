package store_test

import (
	"math"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// TestCursors checks the cursor codec without a database: a plain test,
// not a spec of the suite.
func TestCursors(t *testing.T) {
	g := NewWithT(t)
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}

	// Base64url of position 42's 8 bytes and HMAC-SHA256(key, them)[:16],
	// computed apart (Python's hmac): the lists in position order keep the
	// format of the cursors issued before lists had names.
	const issued = "AAAAAAAAACqJuS97AQ73WSAk_2R6K5MP"
	g.Expect(store.EncodeCursor(key, "", 42)).To(Equal(issued))
	g.Expect(store.DecodeCursor(key, "", issued)).To(Equal(int64(42)))

	// Any key round-trips, the start of a list whose keys go down included;
	// another list refuses it.
	for _, k := range []int64{0, 1, 42, math.MaxInt64} {
		c := store.EncodeCursor(key, "bookmarked", k)
		g.Expect(store.DecodeCursor(key, "bookmarked", c)).To(Equal(k))
		for _, other := range []string{"", "bookmarke", "bookmarkedd", "liked"} {
			_, err := store.DecodeCursor(key, other, c)
			g.Expect(err).To(MatchError(twitter.ErrBadCursor), "a cursor of bookmarked on %q", other)
		}
	}
	_, err := store.DecodeCursor(key, "liked", issued)
	g.Expect(err).To(MatchError(twitter.ErrBadCursor), "a cursor in position order on another list")
}
