package httpapi_test

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("tweet encoding", func() {
	at := time.Date(2026, 11, 26, 18, 30, 0, 123456000, time.FixedZone("CET", 3600))
	DescribeTable("writes exactly what encoding/json makes of the documented response",
		func(text string, author *twitter.Author, created time.Time) {
			t := twitter.Tweet{ID: 42, Text: text, CreatedAt: created, UpdatedAt: created.Add(time.Second), Author: author}
			want, err := httpapi.TweetJSONReference(t)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(httpapi.TweetJSON(t))).To(Equal(string(want)))
		},
		Entry("plain text, an author", "hello", &twitter.Author{ID: 7, Username: "ada"}, at),
		Entry("anonymous", "hello", nil, at),
		Entry("whole seconds", "x", nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		Entry("nanoseconds with trailing zeros", "x", nil, time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC)),
		Entry("quotes and backslashes", `say "hi" \ bye`, nil, at),
		Entry("HTML-sensitive characters", "<b>a & b</b>", nil, at),
		Entry("every control character", func() string {
			var b strings.Builder
			for c := range 0x20 {
				b.WriteByte(byte(c))
			}
			return b.String() + "\x7f"
		}(), nil, at),
		Entry("line and paragraph separators", "a\u2028b\u2029c", nil, at),
		Entry("emoji and accents", "héllo 🐦 wörld", &twitter.Author{ID: 1 << 40, Username: "ünïcode"}, at),
		Entry("invalid UTF-8", "a\xffb\xc3", nil, at),
		Entry("a long text", strings.Repeat("ab<&>\"\\ é🐦", 28), nil, at),
	)
})

var _ = Describe("request decoding edge cases", func() {
	It("finds a field whose name is written with escapes", func() {
		r := postJSON("/tweets", `{"te\u0078t":"escaped name"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(decodeTweet(r).Text).To(Equal("escaped name"))
	})

	It("takes the last of a repeated field, as encoding/json does", func() {
		r := postJSON("/tweets", `{"text":"first","text":"second"}`)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(decodeTweet(r).Text).To(Equal("second"))
	})

	It("skips nested values of unknown fields whole, strings with brackets included", func() {
		r := postJSON("/tweets", `{"text":"ok","extra":{"a":["}",{"b":"]\""}],"c":null}, "more" : [1, 2.5e3, true]}`)
		expectProblem(r, http.StatusUnprocessableEntity, "extra", "more")
	})

	It("names a repeated unknown field once", func() {
		r := postJSON("/tweets", `{"text":"ok","x":1,"x":2}`)
		expectProblem(r, http.StatusUnprocessableEntity, "x")
	})

	It("decodes escapes in values", func() {
		r := postJSON("/tweets", `{"text":"line\nbreak \u00e9 \ud83d\udc26 \"q\""}`)
		Expect(r.status).To(Equal(http.StatusCreated), "%s", r)
		Expect(decodeTweet(r).Text).To(Equal("line\nbreak é 🐦 \"q\""))
	})
})
