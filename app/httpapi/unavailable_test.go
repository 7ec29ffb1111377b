package httpapi_test

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
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

		var db *store.DB
		proxy, db = tdb.Proxied()
		proxied = newApp(db)

		// Warm the pool so that going down cuts open connections too.
		Expect(req(http.MethodGet, "/readyz").on(proxied).status).To(Equal(http.StatusOK))
		Expect(decodeTweet(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))).To(Equal(saved))
	})

	expect503 := func(r result) {
		GinkgoHelper()
		expectProblem(r, http.StatusServiceUnavailable)
		Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
	}

	It("answers 503 with Retry-After everywhere the database is needed, keeps /healthz at 200, and recovers without a rebuild", func() {
		proxy.Down()

		expect503(req(http.MethodGet, "/readyz").on(proxied))
		expect503(req(http.MethodGet, "/tweets").on(proxied))
		expect503(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))
		expect503(req(http.MethodPost, "/tweets").withJSON(tweetBody("lost")).on(proxied))
		expect503(req(http.MethodPost, "/tweets").withJSON(tweetBody("lost")).with("X-API-Key", user.APIKey).on(proxied))
		expect503(req(http.MethodPatch, tweetPath(saved.ID)).withJSON(tweetBody("lost")).on(proxied))
		expect503(req(http.MethodDelete, tweetPath(saved.ID)).with("X-API-Key", user.APIKey).on(proxied))
		expect503(req(http.MethodPost, "/users").withJSON(userBody("newbie", "newbie@example.com")).on(proxied))
		expect503(req(http.MethodGet, userPath(user.ID)).on(proxied))
		expect503(req(http.MethodGet, userPath(user.ID)+"/tweets").on(proxied))

		// Validation does not need the database: still a 4xx.
		expectProblem(req(http.MethodPost, "/tweets").withJSON(`{"text":""}`).on(proxied), http.StatusUnprocessableEntity, "text")
		expectProblem(req(http.MethodGet, "/tweets?limit=0").on(proxied), http.StatusUnprocessableEntity, "limit")

		// Liveness does not touch the database.
		h := req(http.MethodGet, "/healthz").on(proxied)
		Expect(h.status).To(Equal(http.StatusOK))
		Expect(h.object()).To(HaveKeyWithValue("status", "ok"))

		Expect(proxy.Up()).To(Succeed())

		Eventually(func() int {
			return req(http.MethodGet, "/readyz").on(proxied).status
		}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))
		Eventually(func() int {
			return req(http.MethodGet, "/tweets").on(proxied).status
		}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))

		r := req(http.MethodGet, "/tweets").on(proxied)
		Expect(tweetList(r)).To(Equal([]tweet{saved}))
		r = req(http.MethodPost, "/tweets").withJSON(tweetBody("back again")).with("X-API-Key", user.APIKey).on(proxied)
		Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
		Expect(decodeTweet(get(tweetPath(decodeTweet(r).ID))).Text).To(Equal("back again"))
	})

	It("can go down and come back more than once", func() {
		for range 3 {
			proxy.Down()
			expect503(req(http.MethodGet, "/readyz").on(proxied))
			expect503(req(http.MethodGet, "/tweets").on(proxied))
			Expect(proxy.Up()).To(Succeed())
			Eventually(func() int {
				return req(http.MethodGet, "/tweets").on(proxied).status
			}).WithTimeout(15 * time.Second).WithPolling(50 * time.Millisecond).Should(Equal(http.StatusOK))
		}
		Expect(decodeTweet(req(http.MethodGet, tweetPath(saved.ID)).on(proxied))).To(Equal(saved))
	})
})
