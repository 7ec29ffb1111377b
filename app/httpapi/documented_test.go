package httpapi_test

import (
	"net/http"

	"github.com/gofiber/fiber/v2"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Every request helper checks its response against docs/swagger.json; these
// show that the check fails when a handler answers off the document.
var _ = Describe("the response check against docs/swagger.json", func() {
	// offDocument answers the documented GET /tweets/{id} as handle does.
	offDocument := func(handle fiber.Handler) *fiber.App {
		a := fiber.New()
		a.Get("/tweets/:id", handle)
		return a
	}

	It("fails a spec that receives a status the operation does not document", func() {
		a := offDocument(func(c *fiber.Ctx) error { return c.SendStatus(http.StatusTeapot) })
		failures := InterceptGomegaFailures(func() { req(http.MethodGet, "/tweets/1").on(a) })
		Expect(failures).To(ContainElement(And(ContainSubstring("GET /tweets/1 answered 418"), ContainSubstring("status is not supported"))))
	})

	It("fails a spec that receives a body off the operation's schema", func() {
		a := offDocument(func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"id": "one", "text": 1}) })
		failures := InterceptGomegaFailures(func() { req(http.MethodGet, "/tweets/1").on(a) })
		Expect(failures).To(ContainElement(ContainSubstring("GET /tweets/1 answered 200")))
	})

	It("fails on the server path too, where the server itself answers", func() {
		a := offDocument(func(c *fiber.Ctx) error { return c.SendStatus(http.StatusTeapot) })
		failures := InterceptGomegaFailures(func() { req(http.MethodGet, "/tweets/1").onServer(a) })
		Expect(failures).To(ContainElement(ContainSubstring("answered 418")))
	})

	It("passes what the API answers, and leaves undocumented routes alone", func() {
		Expect(InterceptGomegaFailures(func() {
			get("/tweets")
			get("/swagger/index.html")
			req("PROPFIND", "/tweets").send()
		})).To(BeEmpty())
	})
})
