package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// httpFollower reads GET /tweets as a client does: it follows Link to the
// end of the list, then polls from Next-Cursor.
type httpFollower struct {
	base, next string
	seen       []int64 // in the order received
}

var nextLink = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// catchUp reads pages until the list has no more.
func (f *httpFollower) catchUp() {
	GinkgoHelper()
	for {
		r := do(client, http.MethodGet, f.base+f.next, "")
		Expect(r.status).To(Equal(http.StatusOK), "GET %s: %s", f.next, r)
		var page []struct {
			ID int64 `json:"id"`
		}
		Expect(json.Unmarshal(r.body, &page)).To(Succeed())
		for _, t := range page {
			f.seen = append(f.seen, t.ID)
		}
		if m := nextLink.FindStringSubmatch(r.header.Get("Link")); m != nil {
			f.next = m[1]
			continue
		}
		cursor := r.header.Get("Next-Cursor")
		Expect(cursor).NotTo(BeEmpty(), "GET %s: no Link and no Next-Cursor", f.next)
		f.next = "/tweets?limit=7&cursor=" + url.QueryEscape(cursor)
		return
	}
}

// has says whether every id in ids has been seen.
func (f *httpFollower) has(ids []int64) bool {
	for _, id := range ids {
		if !slices.Contains(f.seen, id) {
			return false
		}
	}
	return true
}

var _ = Describe("following the list over HTTP", func() {
	It("sees every committed tweet exactly once, one held open while higher ids commit after them, numbered by the service's sweep", func(ctx SpecContext) {
		s := startServer(env{"DATABASE_URL": tdb.DSN})
		var before []int64
		for i := range 3 {
			r := do(client, http.MethodPost, s.base+"/tweets", fmt.Sprintf(`{"text":"before %d"}`, i))
			Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
			before = append(before, int64(r.object()["id"].(float64)))
		}
		followers := []*httpFollower{
			{base: s.base, next: "/tweets?limit=7"},
			{base: s.base, next: fmt.Sprintf("/tweets?limit=7&after_id=%d", before[0])}, // the deprecated start
		}
		for _, f := range followers {
			f.catchUp()
		}

		By("holding a direct insert (as the previous version writes) open while four writers commit higher ids")
		held, err := tdb.Begin(ctx)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx context.Context) { _ = held.Rollback(ctx) })
		var heldID int64
		Expect(held.QueryRow(ctx, "INSERT INTO tweets (text) VALUES ('held open') RETURNING id").Scan(&heldID)).To(Succeed())
		var (
			mu      sync.Mutex
			written []int64
			wg      sync.WaitGroup
		)
		for w := range 4 {
			wg.Go(func() {
				defer GinkgoRecover()
				for i := range 25 {
					var id int64
					Expect(tdb.QueryRow(ctx, "INSERT INTO tweets (text) VALUES ($1) RETURNING id",
						fmt.Sprintf("writer %d tweet %d", w, i)).Scan(&id)).To(Succeed())
					mu.Lock()
					written = append(written, id)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		Expect(slices.Max(written)).To(BeNumerically(">", heldID))

		By("listing them while the held one is open, once the sweep numbers them")
		poll := func(ids []int64) {
			GinkgoHelper()
			Eventually(func() bool {
				for _, f := range followers {
					f.catchUp()
				}
				return followers[0].has(ids) && followers[1].has(ids)
			}).WithTimeout(10 * time.Second).WithPolling(5 * time.Millisecond).Should(BeTrue())
		}
		poll(written)
		for _, f := range followers {
			Expect(f.seen).NotTo(ContainElement(heldID))
		}

		By("listing the held one once it commits, after all of them")
		Expect(held.Commit(ctx)).To(Succeed())
		poll([]int64{heldID})
		want := append(append(slices.Clone(before), written...), heldID)
		Expect(followers[0].seen).To(ConsistOf(want))
		Expect(followers[1].seen).To(ConsistOf(want[1:]))
		for _, f := range followers {
			Expect(f.seen[len(f.seen)-1]).To(Equal(heldID))
		}
	})
})
