package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

var _ = Describe("rate limits", func() {
	limited := func(signups, anonymousWrites int) *fiber.App {
		return httpapi.New(httpapi.Deps{
			Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			SignupLimit: signups, AnonymousWriteLimit: anonymousWrites, RateWindow: time.Hour,
		})
	}
	expectLimited := func(r result) {
		GinkgoHelper()
		p := expectProblem(r, http.StatusTooManyRequests)
		Expect(p["detail"]).To(ContainSubstring("Retry-After"))
		Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
	}
	countUsers := func() int {
		GinkgoHelper()
		var n int
		Expect(tdb.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n)).To(Succeed())
		return n
	}

	It("refuses a client's POST /users beyond RATE_LIMIT_SIGNUPS a window with 429, creating nothing", func() {
		a := limited(2, 0)
		for _, name := range []string{"first_user", "second_user"} {
			r := req(http.MethodPost, "/users").withJSON(userBody(name, name+"@example.com")).on(a)
			Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		}
		expectLimited(req(http.MethodPost, "/users").withJSON(userBody("third_user", "third@example.com")).on(a))
		Expect(countUsers()).To(Equal(2))
		By("before the body is read: a malformed one is refused the same")
		expectLimited(req(http.MethodPost, "/users").withJSON(`{`).on(a))
	})

	It("refuses a client's writes without an API key beyond RATE_LIMIT_ANONYMOUS_WRITES, on every write route; writes with a key pass", func() {
		a := limited(0, 3)
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("one")).on(a)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		path := tweetPath(decodeTweet(r).ID)
		Expect(req(http.MethodPatch, path).withJSON(tweetBody("two")).on(a).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodDelete, path).on(a).status).To(Equal(http.StatusNoContent))
		before := stateOf()
		expectLimited(req(http.MethodPost, "/tweets").withJSON(tweetBody("four")).on(a))
		expectLimited(req(http.MethodPatch, path).withJSON(tweetBody("four")).on(a))
		expectLimited(req(http.MethodDelete, path).on(a))
		Expect(stateOf()).To(Equal(before))

		u := createUser("keyed", "keyed@example.com") // on the spec's unlimited app
		r = req(http.MethodPost, "/tweets").withJSON(tweetBody("with a key")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(req(http.MethodGet, "/tweets").on(a).status).To(Equal(http.StatusOK), "reads are not limited")
	})

	It("is off at 0", func() {
		a := limited(0, 0)
		for range 20 {
			Expect(req(http.MethodPost, "/tweets").withJSON(tweetBody("many")).on(a).status).To(Equal(http.StatusCreated))
		}
	})
})

var _ = Describe("the access log", func() {
	It("records the client's address and the acting user's id (0 when anonymous), never the key", func() {
		u := createUser("logged", "logged@example.com")
		logged := &bytes.Buffer{}
		a := httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			Logger: slog.New(slog.NewJSONHandler(logged, nil))})
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("traced")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusCreated))
		Expect(req(http.MethodGet, "/tweets").on(a).status).To(Equal(http.StatusOK))
		lines := logLines(logged)
		Expect(lines).To(ContainElement(SatisfyAll(
			HaveKeyWithValue("method", "POST"),
			HaveKeyWithValue("remote", Not(BeEmpty())),
			HaveKeyWithValue("user_id", BeNumerically("==", u.ID)),
		)))
		Expect(lines).To(ContainElement(SatisfyAll(
			HaveKeyWithValue("method", "GET"),
			HaveKeyWithValue("remote", Not(BeEmpty())),
			HaveKeyWithValue("user_id", BeNumerically("==", 0)),
		)))
		Expect(logged.String()).NotTo(ContainSubstring(u.APIKey))
	})
})
