package httpapi_test

import (
	"net/http"
	"strings"

	"github.com/gofiber/fiber/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

var _ = Describe("requireUser", func() {
	var withKey *fiber.App

	BeforeEach(func() {
		withKey = newApp(tdb.DB)
		withKey.Get("/whoami", httpapi.WhoAmI(tdb.DB.Services().Users))
	})

	It("runs the handler for the owner of X-API-Key", func() {
		u := createUser("keyholder", "keyholder@example.com")
		r := req(http.MethodGet, "/whoami").with("X-API-Key", u.APIKey).on(withKey)
		Expect(r.status).To(Equal(http.StatusOK), "response: %s", r)
		Expect(string(r.body)).To(Equal("keyholder"))
	})

	DescribeTable("answers 401 without running the handler",
		func(key, detail string) {
			r := req(http.MethodGet, "/whoami").with("X-API-Key", key).on(withKey)
			p := expectProblem(r, http.StatusUnauthorized)
			Expect(p["detail"]).To(Equal(detail))
			Expect(r.header.Get("WWW-Authenticate")).To(ContainSubstring("X-API-Key"))
		},
		Entry("without the header", "", "this request needs an API key: send one in X-API-Key"),
		Entry("with a key that belongs to nobody", "tw_"+strings.Repeat("A", 43),
			"the X-API-Key header does not hold a valid API key"),
	)
})
