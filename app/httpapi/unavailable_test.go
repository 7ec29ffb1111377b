package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
)

var _ = Describe("when the database goes away", func() {
	var (
		proxy   *testdb.Proxy
		proxied *fiber.App
		user    createdUser
		saved   tweet
	)

	BeforeEach(func() {
		// Data written through the direct connection, read through the proxy.
		user = createUser("survivor", "survivor@example.com")
		saved = createTweet("still here", user.APIKey)

		proxy, proxied = proxiedApp()

		// Warm the pool so that going down cuts open connections too.
		Expect(req(http.MethodGet, "/readyz").on(proxied).status).To(Equal(http.StatusOK))
		Expect(decodeTweet(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))).To(Equal(saved))
	})

	It("answers 503 with Retry-After everywhere the database is needed, keeps /healthz at 200, and recovers without a rebuild", func() {
		proxy.Down()

		expectUnavailable(req(http.MethodGet, "/readyz").on(proxied))
		expectUnavailable(req(http.MethodGet, "/tweets").on(proxied))
		expectUnavailable(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))
		expectUnavailable(req(http.MethodPost, "/tweets").withJSON(tweetBody("lost")).on(proxied))
		expectUnavailable(req(http.MethodPost, "/tweets").withJSON(tweetBody("lost")).with("X-API-Key", user.APIKey).on(proxied))
		expectUnavailable(req(http.MethodPatch, tweetPath(saved.ID)).withJSON(tweetBody("lost")).on(proxied))
		expectUnavailable(req(http.MethodDelete, tweetPath(saved.ID)).with("X-API-Key", user.APIKey).on(proxied))
		expectUnavailable(req(http.MethodPost, "/users").withJSON(userBody("newbie", "newbie@example.com")).on(proxied))
		expectUnavailable(req(http.MethodGet, userPath(user.ID)).on(proxied))
		expectUnavailable(req(http.MethodGet, userPath(user.ID)+"/tweets").on(proxied))

		// Validation does not need the database: still a 4xx.
		expectProblem(req(http.MethodPost, "/tweets").withJSON(`{"text":""}`).on(proxied), http.StatusUnprocessableEntity, "text")
		expectProblem(req(http.MethodGet, "/tweets?limit=0").on(proxied), http.StatusUnprocessableEntity, "limit")

		// Liveness does not touch the database.
		h := req(http.MethodGet, "/healthz").on(proxied)
		Expect(h.status).To(Equal(http.StatusOK))
		Expect(h.object()).To(HaveKeyWithValue("status", "ok"))

		Expect(proxy.Up()).To(Succeed())

		eventuallyOK(proxied, "/readyz")
		eventuallyOK(proxied, "/tweets")

		r := req(http.MethodGet, "/tweets").on(proxied)
		Expect(tweetList(r)).To(Equal([]tweet{saved}))
		r = req(http.MethodPost, "/tweets").withJSON(tweetBody("back again")).with("X-API-Key", user.APIKey).on(proxied)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		Expect(decodeTweet(get(tweetPath(decodeTweet(r).ID))).Text).To(Equal("back again"))
	})

	It("can go down and come back more than once", func() {
		for range 3 {
			proxy.Down()
			expectUnavailable(req(http.MethodGet, "/readyz").on(proxied))
			expectUnavailable(req(http.MethodGet, "/tweets").on(proxied))
			Expect(proxy.Up()).To(Succeed())
			eventuallyOK(proxied, "/tweets")
		}
		Expect(decodeTweet(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))).To(Equal(saved))
	})
})

var _ = Describe("creates held on a lock", func() {
	// postWhileLocked holds tweet_order's row lock, which every create
	// waits for, sends n creates to a, releases the lock after hold (or,
	// when hold is 0, once every create has answered) and returns each
	// create's status.
	postWhileLocked := func(ctx context.Context, a *fiber.App, n int, hold time.Duration) []int {
		GinkgoHelper()
		lock := tdb.HoldOrder(ctx)
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				statuses[i] = req(http.MethodPost, "/tweets").withJSON(tweetBody(fmt.Sprintf("held %d", i))).on(a).status
			})
		}
		Eventually(func() (int, error) { return tdb.ServiceLockWaits(ctx) }).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).
			Should(BeNumerically(">=", 1))
		if hold == 0 {
			wg.Wait()
		}
		time.Sleep(hold)
		Expect(lock.Rollback(ctx)).To(Succeed())
		wg.Wait()
		return statuses
	}
	held := func(ctx context.Context) int {
		var n int
		Expect(tdb.QueryRow(ctx, "SELECT count(*) FROM tweets WHERE text LIKE 'held %'").Scan(&n)).To(Succeed())
		return n
	}

	It("answers 503 past the budget and then stores nothing; 201 for every row within it", func(ctx SpecContext) {
		const n = 6
		By("held past the 1 s budget: 503s, and no row once the lock goes")
		short := httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB), RequestTimeout: time.Second})
		statuses := postWhileLocked(ctx, short, n, 0)
		Expect(statuses).To(HaveEach(http.StatusServiceUnavailable))
		Consistently(func() int { return held(ctx) }).WithTimeout(time.Second).WithPolling(100 * time.Millisecond).Should(BeZero())

		By("held within the budget: every create stored is answered 201")
		statuses = postWhileLocked(ctx, app, n, 300*time.Millisecond)
		Expect(statuses).To(HaveEach(http.StatusCreated))
		Expect(held(ctx)).To(Equal(n))
	})
})
