package httpapi_test

import (
	"net/http"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/store"
)

var _ = Describe("when the database stalls", func() {
	It("answers 503 with Retry-After within the request budget, reports unready, and recovers without a restart", func() {
		u := createUser("stalled", "stalled@example.com")
		saved := createTweet("kept", u.APIKey)
		proxy, db := tdb.Proxied()
		const budget = time.Second
		a := httpapi.New(httpapi.Deps{
			Services: db.Services(), Ready: readyOver(db), RequestTimeout: budget,
		})
		Expect(req(http.MethodGet, "/readyz").on(a).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodGet, tweetPath(saved.ID)).on(a).status).To(Equal(http.StatusOK))

		proxy.Stall()
		stalled := []request{
			req(http.MethodGet, "/readyz"),
			req(http.MethodGet, "/tweets"),
			req(http.MethodGet, tweetPath(saved.ID)),
			req(http.MethodPost, "/tweets").withJSON(tweetBody("during the stall")),
			req(http.MethodPatch, tweetPath(saved.ID)).withJSON(tweetBody("x")).with("X-API-Key", u.APIKey),
			req(http.MethodPost, "/users").withJSON(userBody("stall_user", "stall@example.com")),
		}
		type timed struct {
			r       result
			elapsed time.Duration
		}
		out := make([]timed, len(stalled))
		var wg sync.WaitGroup
		for i, rq := range stalled {
			wg.Go(func() {
				defer GinkgoRecover()
				start := time.Now()
				r := rq.on(a)
				out[i] = timed{r, time.Since(start)}
			})
		}
		wg.Wait()
		for i, o := range out {
			expectUnavailable(o.r)
			// The budget plus scheduling slack on a busy machine, far below
			// the 5 s the connect timeout or a second budget would add. A
			// create whose statement was sent also waits for the server's
			// answer to its cancel (store.CancelDeadline), which a stall
			// never gives.
			bound := budget + 2*time.Second
			if stalled[i].method == http.MethodPost && stalled[i].target == "/tweets" {
				bound = budget + store.CancelDeadline + time.Second
			}
			Expect(o.elapsed).To(BeNumerically("<", bound), "%s %s", stalled[i].method, stalled[i].target)
		}
		Expect(req(http.MethodGet, "/healthz").on(a).status).To(Equal(http.StatusOK))

		proxy.Resume()
		eventuallyOK(a, "/readyz")
		eventuallyOK(a, tweetPath(saved.ID))
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("after the stall")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
	})
})
