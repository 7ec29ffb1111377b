package httpapi_test

import (
	"context"
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// Each request's statements are counted on the wire, between the pool and
// PostgreSQL, so a change that adds a round trip fails here.
var _ = Describe("statements a request sends to PostgreSQL", func() {
	var (
		proxy   *testdb.Proxy
		counted *fiber.App
		author  createdUser
		other   createdUser
		owned   tweet
	)

	BeforeEach(func(ctx SpecContext) {
		proxy, counted = proxiedApp()
		author = createUser("counted", "counted@example.com")
		other = createUser("bystander", "bystander@example.com")
		owned = createTweet("owned", author.APIKey)
		// Enough for a full page of 100 with their author.
		Expect(tdb.Exec(ctx,
			"INSERT INTO tweets (text, user_id) SELECT 'filler ' || g, $1::bigint FROM generate_series(1, 150) g", author.ID)).
			To(Succeed())
		Expect(tdb.DB.AssignPositions(ctx)).To(Equal(int64(150)))
		// The pool loads the cursor key with its first list, once.
		Expect(req(http.MethodGet, "/tweets?limit=1").on(counted).status).To(Equal(http.StatusOK))
	})

	// count sends rq to the counted app, expects status and returns the
	// statements it ran.
	count := func(rq request, status int) []string {
		GinkgoHelper()
		proxy.ResetStatements()
		r := rq.on(counted)
		Expect(r.status).To(Equal(status), "response: %s", r)
		return proxy.Statements()
	}
	withKey := func(rq request, key string) request { return rq.with("X-API-Key", key) }

	DescribeTable("reads take one statement",
		func(target func() string, status int) {
			Expect(count(req(http.MethodGet, target()), status)).To(HaveLen(1))
		},
		Entry("GET /tweets/{id}", func() string { return tweetPath(owned.ID) }, http.StatusOK),
		Entry("GET /tweets/{id} of a missing tweet", func() string { return tweetPath(1 << 40) }, http.StatusNotFound),
		Entry("GET /tweets?limit=100", func() string { return "/tweets?limit=100" }, http.StatusOK),
		Entry("GET /users/{id}", func() string { return userPath(author.ID) }, http.StatusOK),
		Entry("GET /users/{id}/tweets with tweets", func() string { return userPath(author.ID) + "/tweets" }, http.StatusOK),
	)

	It("checks that a user exists only when their page is empty", func() {
		Expect(count(req(http.MethodGet, userPath(other.ID)+"/tweets"), http.StatusOK)).To(HaveLen(2))
		Expect(count(req(http.MethodGet, userPath(1<<40)+"/tweets"), http.StatusNotFound)).To(HaveLen(2))
	})

	It("creates a tweet in one statement (which concurrent creates share), plus one to authenticate", func() {
		Expect(count(req(http.MethodPost, "/tweets").withJSON(tweetBody("anon")), http.StatusCreated)).To(HaveLen(1))
		stmts := count(withKey(req(http.MethodPost, "/tweets").withJSON(tweetBody("keyed")), author.APIKey), http.StatusCreated)
		Expect(stmts).To(HaveLen(2), "%q", stmts)
	})

	It("changes and deletes in one conditional statement, plus one to authenticate", func() {
		stmts := count(withKey(req(http.MethodPatch, tweetPath(owned.ID)).withJSON(tweetBody("new")), author.APIKey), http.StatusOK)
		Expect(stmts).To(HaveLen(2), "%q", stmts)
		stmts = count(withKey(req(http.MethodDelete, tweetPath(owned.ID)), author.APIKey), http.StatusNoContent)
		Expect(stmts).To(HaveLen(2), "%q", stmts)
	})

	It("looks the tweet up only when the change matched nothing, to say why", func() {
		patch := req(http.MethodPatch, tweetPath(owned.ID)).withJSON(tweetBody("x"))
		Expect(count(withKey(patch, other.APIKey), http.StatusForbidden)).To(HaveLen(3))
		Expect(count(req(http.MethodPatch, tweetPath(owned.ID)).withJSON(tweetBody("x")), http.StatusUnauthorized)).To(HaveLen(2))
		Expect(count(withKey(req(http.MethodDelete, tweetPath(owned.ID)), other.APIKey), http.StatusForbidden)).To(HaveLen(3))
		Expect(count(withKey(req(http.MethodDelete, tweetPath(1<<40)), author.APIKey), http.StatusNotFound)).To(HaveLen(3))
		Expect(get(tweetPath(owned.ID)).status).To(Equal(http.StatusOK))
	})
})

// deletesAfterAuth deletes the user right after authenticating them, as a
// concurrent DELETE of the account would.
type deletesAfterAuth struct{ twitter.UserService }

func (d deletesAfterAuth) ByAPIKey(ctx context.Context, key string) (twitter.User, error) {
	u, err := d.UserService.ByAPIKey(ctx, key)
	if err == nil {
		err = tdb.Exec(ctx, "DELETE FROM users WHERE id = $1", u.ID)
	}
	return u, err
}

var _ = Describe("constraint violations", func() {
	It("answers 401 when the author is deleted between authentication and the insert", func() {
		u := createUser("vanishing", "vanishing@example.com")
		racing := httpapi.New(httpapi.Deps{
			Services: servicesWith(tdb.DB, func(s *twitter.Services) { s.Users = deletesAfterAuth{s.Users} }), Ready: readyOver(tdb.DB),
		})
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("orphan")).with("X-API-Key", u.APIKey).on(racing)
		p := expectProblem(r, http.StatusUnauthorized)
		Expect(p["detail"]).To(Equal("the X-API-Key header does not hold a valid API key"))
		Expect(ids(get("/tweets"))).To(BeEmpty())
	})

	It("answers an unexpected constraint with a logged 500 that names nothing to the client", func(ctx SpecContext) {
		Expect(tdb.Exec(ctx, "CREATE UNIQUE INDEX tweets_text_probe_key ON tweets (text)")).To(Succeed())
		DeferCleanup(func(ctx context.Context) {
			Expect(tdb.Exec(ctx, "DROP INDEX tweets_text_probe_key")).To(Succeed())
		})
		logged, logs := loggingApp(tdb.DB.Services())
		Expect(req(http.MethodPost, "/tweets").withJSON(tweetBody("twice")).on(logged).status).To(Equal(http.StatusCreated))
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("twice")).on(logged)
		p := expectProblem(r, http.StatusInternalServerError)
		Expect(p["detail"]).To(Equal("an unexpected error occurred"))
		Expect(string(r.body)).NotTo(ContainSubstring("tweets_text_probe_key"))
		Expect(logs.String()).To(ContainSubstring("tweets_text_probe_key"))
		Expect(strings.Count(logs.String(), `"level":"ERROR"`)).To(BeNumerically(">=", 1))
	})
})
