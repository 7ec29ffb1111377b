package httpapi_test

import (
	"net/http"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

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
