package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
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

var _ = Describe("limits behind a proxy", func() {
	// app.Test's connections come from 0.0.0.0: the proxy, when trusted.
	proxy := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/32")}
	signupsOf := func(trusted []netip.Prefix) *fiber.App {
		return httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			SignupLimit: 1, RateWindow: time.Hour, TrustedProxies: trusted})
	}
	signup := func(a *fiber.App, name, forwardedFor string) int {
		GinkgoHelper()
		return req(http.MethodPost, "/users").withJSON(userBody(name, name+"@example.com")).
			with("X-Forwarded-For", forwardedFor).on(a).status
	}

	It("counts each client a trusted proxy forwards on its own, by the rightmost address it did not write itself", func() {
		a := signupsOf(proxy)
		Expect(signup(a, "first_client", "203.0.113.1")).To(Equal(http.StatusCreated))
		Expect(signup(a, "second_client", "203.0.113.2")).To(Equal(http.StatusCreated), "another client, another bucket")
		Expect(signup(a, "first_again", "203.0.113.1")).To(Equal(http.StatusTooManyRequests))
		By("an address the client wrote to the left of the proxy's is not believed")
		Expect(signup(a, "forged_left", "198.51.100.7, 203.0.113.1")).To(Equal(http.StatusTooManyRequests))
	})

	It("buckets IPv6 clients by their /64", func() {
		a := signupsOf(proxy)
		Expect(signup(a, "v6_first", "2001:db8:1:2::1")).To(Equal(http.StatusCreated))
		Expect(signup(a, "v6_same_64", "2001:db8:1:2:ffff::9")).To(Equal(http.StatusTooManyRequests), "the same /64")
		Expect(signup(a, "v6_next_64", "2001:db8:1:3::1")).To(Equal(http.StatusCreated), "another /64")
	})

	It("ignores X-Forwarded-For from a peer it does not trust: every forged address is the peer", func() {
		a := signupsOf(nil)
		Expect(signup(a, "untrusted_one", "203.0.113.1")).To(Equal(http.StatusCreated))
		Expect(signup(a, "untrusted_two", "203.0.113.2")).To(Equal(http.StatusTooManyRequests))
		b := signupsOf([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}) // a proxy, but not this peer
		Expect(signup(b, "other_proxy_one", "203.0.113.1")).To(Equal(http.StatusCreated))
		Expect(signup(b, "other_proxy_two", "203.0.113.2")).To(Equal(http.StatusTooManyRequests))
	})
})

var _ = Describe("per-user limits", func() {
	perUser := func(keyedWrites, account int) *fiber.App {
		return httpapi.New(httpapi.Deps{Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			KeyedWriteLimit: keyedWrites, AccountLimit: account, RateWindow: time.Hour})
	}
	expectLimited := func(r result) {
		GinkgoHelper()
		p := expectProblem(r, http.StatusTooManyRequests)
		Expect(p["detail"]).To(ContainSubstring("this user sent more than"))
		Expect(r.header.Get("Retry-After")).To(MatchRegexp(`^[1-9][0-9]*$`))
	}

	It("refuses a user's writes of tweets with a key beyond RATE_LIMIT_KEYED_WRITES, on every write route; other users and anonymous writes pass", func() {
		a := perUser(3, 0)
		u := createUser("busy_writer", "busy_writer@example.com")
		r := req(http.MethodPost, "/tweets").withJSON(tweetBody("one")).with("X-API-Key", u.APIKey).on(a)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		path := tweetPath(decodeTweet(r).ID)
		Expect(req(http.MethodPatch, path).withJSON(tweetBody("two")).with("X-API-Key", u.APIKey).on(a).status).To(Equal(http.StatusOK))
		Expect(req(http.MethodPost, "/tweets").withJSON(tweetBody("three")).with("X-API-Key", u.APIKey).on(a).status).To(Equal(http.StatusCreated))
		before := stateOf()
		expectLimited(req(http.MethodPost, "/tweets").withJSON(tweetBody("four")).with("X-API-Key", u.APIKey).on(a))
		expectLimited(req(http.MethodPatch, path).withJSON(tweetBody("four")).with("X-API-Key", u.APIKey).on(a))
		expectLimited(req(http.MethodDelete, path).with("X-API-Key", u.APIKey).on(a))
		Expect(stateOf()).To(Equal(before), "nothing refused is stored")

		other := createUser("calm_writer", "calm_writer@example.com")
		Expect(req(http.MethodPost, "/tweets").withJSON(tweetBody("mine")).with("X-API-Key", other.APIKey).on(a).status).To(Equal(http.StatusCreated))
		Expect(req(http.MethodPost, "/tweets").withJSON(tweetBody("anonymous")).on(a).status).To(Equal(http.StatusCreated))
		Expect(req(http.MethodGet, "/tweets").with("X-API-Key", u.APIKey).on(a).status).To(Equal(http.StatusOK), "reads are not limited")
	})

	It("refuses a user's key rotations, revocations and account deletion beyond RATE_LIMIT_ACCOUNT", func() {
		a := perUser(0, 2)
		u := createUser("rotating", "rotating@example.com")
		key := rotate(a, u.ID, u.APIKey, "").APIKey
		key = rotate(a, u.ID, key, "").APIKey
		expectLimited(req(http.MethodPost, keysPath(u.ID)).with("X-API-Key", key).on(a))
		expectLimited(req(http.MethodDelete, keysPath(u.ID)+"/current").with("X-API-Key", key).on(a))
		expectLimited(req(http.MethodDelete, userPath(u.ID)).with("X-API-Key", key).on(a))
		Expect(get(userPath(u.ID)).status).To(Equal(http.StatusOK), "the account is still there")
		Expect(tweetAs(a, key, "rotating")).To(Equal(http.StatusCreated), "the key still writes")

		other := createUser("steady", "steady@example.com")
		rotate(a, other.ID, other.APIKey, "")
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
