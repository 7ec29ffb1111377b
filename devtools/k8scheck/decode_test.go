package k8scheck_test

import (
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"

	"github.com/twitter-api/twitter-api/devtools/k8scheck"
)

// The checks the policy suite relies on, shown to fail on bad input.
var _ = Describe("Decode", func() {
	const valid = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: x
spec:
  replicas: 2
`
	It("decodes a known kind into its typed object", func() {
		objs, err := k8scheck.Decode([]byte(valid + "---\n" + valid))
		Expect(err).NotTo(HaveOccurred())
		Expect(objs).To(HaveLen(2))
		Expect(*objs[0].(*appsv1.Deployment).Spec.Replicas).To(BeEquivalentTo(2))
	})

	DescribeTable("refuses",
		func(doc, want string) {
			_, err := k8scheck.Decode([]byte(doc))
			Expect(err).To(MatchError(ContainSubstring(want)))
		},
		Entry("an unknown field", valid+"  replica: 3\n", `unknown field "spec.replica"`),
		Entry("a misplaced field", valid+"  terminationGracePeriodSeconds: 30\n", "unknown field"),
		Entry("a wrong type", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replicas: three\n", "cannot unmarshal"),
		Entry("a duplicate field", valid+"  replicas: 3\n", `"replicas" already set`),
		Entry("an unknown kind", "apiVersion: v1\nkind: Secrets\nmetadata:\n  name: x\n", "no kind"),
		Entry("an empty stream", "---\n# nothing\n---\n", "no objects"),
	)
})

var _ = Describe("GetRoutes", func() {
	It("finds the API's probe routes in routes.go", func() {
		src, err := os.ReadFile(routesFile)
		Expect(err).NotTo(HaveOccurred())
		routes, err := k8scheck.GetRoutes(src)
		Expect(err).NotTo(HaveOccurred())
		Expect(routes).To(HaveKey("/healthz"))
		Expect(routes).To(HaveKey("/readyz"))
		Expect(routes).To(HaveKey("/tweets/:id"))
		Expect(routes).NotTo(HaveKey("/users"), "POST /users is no GET route")
	})

	It("reports a route that is not there", func() {
		routes, err := k8scheck.GetRoutes([]byte(`package httpapi
func addRoutes(app *fiber.App) { app.Get("/healthz", h); app.Post("/readyz", h); other.Get("/livez", h) }`))
		Expect(err).NotTo(HaveOccurred())
		Expect(routes).To(Equal(map[string]bool{"/healthz": true}))
	})

	It("fails on a file without routes", func() {
		_, err := k8scheck.GetRoutes([]byte("package httpapi\n"))
		Expect(err).To(HaveOccurred())
	})
})

var _ = Describe("DurationConsts", func() {
	It("reads N * time.Unit constants and ignores the rest", func() {
		consts, err := k8scheck.DurationConsts([]byte(`package config
const DefaultShutdownGrace = 10 * time.Second
const (
	AbortGrace = 500 * time.Millisecond
	One        = time.Minute
	Other      = 3
	Name       = "x"
)`))
		Expect(err).NotTo(HaveOccurred())
		Expect(consts).To(Equal(map[string]time.Duration{
			"DefaultShutdownGrace": 10 * time.Second, "AbortGrace": 500 * time.Millisecond, "One": time.Minute,
		}))
	})
})
