package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

var _ = Describe("request decoding edge cases", func() {
	It("finds a field whose name is written with escapes", func() {
		r := postJSON("/tweets", `{"te\u0078t":"escaped name"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(decodeTweet(r).Text).To(Equal("escaped name"))
	})

	DescribeTable("refuses a repeated member, storing nothing: readers differ on which one counts",
		func(body, field string) {
			before := stateOf()
			p := expectProblem(postJSON("/tweets", body), http.StatusUnprocessableEntity, field)
			Expect(p["detail"]).To(ContainSubstring("more than once"))
			Expect(stateOf()).To(Equal(before))
		},
		Entry("a known field twice", `{"text":"a","text":"b"}`, "text"),
		Entry("the same name, escaped the second time", `{"text":"a","t\u0065xt":"b"}`, "text"),
		Entry("a known field, then a wrong type", `{"text":"ok","text":{}}`, "text"),
	)

	It("refuses a repeated member on POST /users too", func() {
		expectProblem(postJSON("/users", `{"username":"valid_name","email":"a@example.com","email":"b@example.com"}`),
			http.StatusUnprocessableEntity, "email")
	})

	It("skips nested values of unknown fields whole, strings with brackets included", func() {
		r := postJSON("/tweets", `{"text":"ok","extra":{"a":["}",{"b":"]\""}],"c":null}, "more" : [1, 2.5e3, true]}`)
		expectProblem(r, http.StatusUnprocessableEntity, "extra", "more")
	})

	It("is a 400 naming the byte offset when a syntax error follows an unknown member", func() {
		p := expectProblem(postJSON("/tweets", `{"x":1,"text":"ok",}`), http.StatusBadRequest)
		Expect(p["detail"]).To(ContainSubstring("at byte 19"))
	})

	It("decodes escapes in values", func() {
		r := postJSON("/tweets", `{"text":"line\nbreak \u00e9 \ud83d\udc26 \"q\""}`)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(decodeTweet(r).Text).To(Equal("line\nbreak é 🐦 \"q\""))
	})

	Describe("a flood of unknown members", func() {
		// flood is an object of n distinct unknown members after a valid text.
		flood := func(n int) string {
			var b strings.Builder
			b.WriteString(`{"text":"ok"`)
			for i := range n {
				fmt.Fprintf(&b, `,"m%d":0`, i)
			}
			return b.String() + "}"
		}

		It("names the first five and counts the rest, in a problem that does not grow with the body", func() {
			n := 0
			for len(flood(n+1000)) < httpapi.DefaultMaxBodyBytes {
				n += 1000
			}
			before := stateOf()
			r := postJSON("/tweets", flood(n))
			expectProblem(r, http.StatusUnprocessableEntity, "m0", "m1", "m2", "m3", "m4")
			Expect(r.object()["detail"]).To(ContainSubstring(fmt.Sprintf("and %d more", n-5)))
			Expect(len(r.body)).To(BeNumerically("<", 1024), "%s", r.body)
			Expect(stateOf()).To(Equal(before))

			small := postJSON("/tweets", flood(300))
			Expect(len(r.body)-len(small.body)).To(BeNumerically("<=", 8), "only the count's digits differ")
		})

		It("clips long names", func() {
			name := strings.Repeat("n", 5000)
			r := postJSON("/tweets", `{"text":"ok","`+name+`":1}`)
			p := expectProblem(r, http.StatusUnprocessableEntity, strings.Repeat("n", 64)+"…")
			Expect(p["detail"]).NotTo(ContainSubstring(strings.Repeat("n", 65)))
		})
	})
})
