package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("tweets", func() {
	Describe("GET /tweets pagination", func() {
		// seed creates n anonymous tweets and returns their ids in order.
		seed := func(n int) []int64 {
			GinkgoHelper()
			out := make([]int64, n)
			for i := range n {
				out[i] = createTweet(fmt.Sprintf("tweet %d", i+1), "").ID
			}
			return out
		}

		It("returns an empty array, not null, and no Link when there are no tweets", func() {
			r := get("/tweets")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(string(r.body)).To(Equal("[]"))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("returns tweets in ascending id order with their authors", func() {
			u := createUser("writer", "writer@example.com")
			a := createTweet("anonymous", "")
			b := createTweet("signed", u.APIKey)
			r := get("/tweets")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(tweetList(r)).To(Equal([]tweet{a, b}))
		})

		It("sends no Link when exactly limit tweets exist", func() {
			want := seed(3)
			r := get("/tweets?limit=3")
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("sends Link rel=next when limit+1 tweets exist, and the link leads to the last one", func() {
			want := seed(4)
			r := get("/tweets?limit=3")
			Expect(ids(r)).To(Equal(want[:3]))
			Expect(r.header.Get("Link")).To(MatchRegexp(`^</tweets\?limit=3&cursor=[A-Za-z0-9_-]{32}>; rel="next"$`))
			Expect(nextLink(r)).To(Equal("/tweets?limit=3&cursor=" + r.header.Get("Next-Cursor")))

			r = get(nextLink(r))
			Expect(r.status).To(Equal(http.StatusOK))
			Expect(ids(r)).To(Equal(want[3:]))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("visits every tweet exactly once when following Link to the end", func() {
			want := seed(11)
			var got []int64
			pages := 0
			for target := "/tweets?limit=3"; target != ""; pages++ {
				Expect(pages).To(BeNumerically("<", 10), "Link never ends")
				r := get(target)
				Expect(r.status).To(Equal(http.StatusOK))
				page := ids(r)
				Expect(len(page)).To(BeNumerically(">=", 1))
				Expect(len(page)).To(BeNumerically("<=", 3))
				got = append(got, page...)
				target = nextLink(r)
			}
			Expect(pages).To(Equal(4))
			Expect(got).To(Equal(want))
		})

		It("defaults to 50 a page", func() {
			want := seed(51)
			r := get("/tweets")
			Expect(ids(r)).To(Equal(want[:50]))
			Expect(nextLink(r)).To(Equal("/tweets?limit=50&cursor=" + r.header.Get("Next-Cursor")))
			Expect(ids(get(nextLink(r)))).To(Equal(want[50:]))
		})

		It("accepts the bounds 1 and 200", func() {
			want := seed(3)
			r := get("/tweets?limit=1")
			Expect(ids(r)).To(Equal(want[:1]))
			Expect(nextLink(r)).To(Equal("/tweets?limit=1&cursor=" + r.header.Get("Next-Cursor")))
			r = get("/tweets?limit=200")
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
		})

		It("gives Next-Cursor on the last page too, to poll for newer tweets from", func() {
			want := seed(2)
			r := get("/tweets")
			Expect(ids(r)).To(Equal(want))
			Expect(r.header.Get("Link")).To(BeEmpty())
			cursor := r.header.Get("Next-Cursor")
			Expect(cursor).NotTo(BeEmpty())
			r = get("/tweets?cursor=" + cursor)
			Expect(string(r.body)).To(Equal("[]"))
			Expect(r.header.Get("Next-Cursor")).To(Equal(cursor))
			newer := createTweet("newer", "").ID
			Expect(ids(get("/tweets?cursor=" + cursor))).To(Equal([]int64{newer}))
		})

		It("keeps following a cursor whose tweet was deleted", func() {
			want := seed(4)
			r := get("/tweets?limit=2")
			Expect(req(http.MethodDelete, tweetPath(want[1])).send().status).To(Equal(http.StatusNoContent))
			Expect(ids(get(nextLink(r)))).To(Equal(want[2:]))
		})

		It("returns what follows after_id, and an empty page beyond the end", func() {
			want := seed(5)
			Expect(ids(get(fmt.Sprintf("/tweets?after_id=%d", want[1])))).To(Equal(want[2:]))
			Expect(ids(get("/tweets?after_id=0"))).To(Equal(want))

			for _, q := range []string{
				fmt.Sprintf("/tweets?after_id=%d", want[4]),
				"/tweets?after_id=1000000",
				"/tweets?after_id=9223372036854775807",
			} {
				r := get(q)
				Expect(r.status).To(Equal(http.StatusOK))
				Expect(string(r.body)).To(Equal("[]"))
				Expect(r.header.Get("Link")).To(BeEmpty())
			}
		})

		It("skips deleted tweets without breaking the page", func() {
			want := seed(4)
			Expect(req(http.MethodDelete, tweetPath(want[1])).send().status).To(Equal(http.StatusNoContent))
			r := get("/tweets?limit=2")
			Expect(ids(r)).To(Equal([]int64{want[0], want[2]}))
			Expect(ids(get(nextLink(r)))).To(Equal([]int64{want[3]}))
		})
	})

	pageErrors := []TableEntry{
		Entry("limit 0", "limit=0", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit 201", "limit=201", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit -1", "limit=-1", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit beyond int64", "limit=99999999999999999999", http.StatusUnprocessableEntity, []string{"limit"}),
		Entry("limit abc", "limit=abc", http.StatusBadRequest, []string{"limit"}),
		Entry("limit 1.5", "limit=1.5", http.StatusBadRequest, []string{"limit"}),
		Entry("limit 1e2", "limit=1e2", http.StatusBadRequest, []string{"limit"}),
		Entry("limit with a space", "limit=%205", http.StatusBadRequest, []string{"limit"}),
		Entry("after_id -1", "after_id=-1", http.StatusUnprocessableEntity, []string{"after_id"}),
		Entry("after_id beyond int64", "after_id=9223372036854775808", http.StatusUnprocessableEntity, []string{"after_id"}),
		Entry("after_id abc", "after_id=abc", http.StatusBadRequest, []string{"after_id"}),
		Entry("after_id 0x1", "after_id=0x1", http.StatusBadRequest, []string{"after_id"}),
		Entry("both out of range", "limit=0&after_id=-5", http.StatusUnprocessableEntity, []string{"limit", "after_id"}),
		Entry("cursor abc", "cursor=abc", http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor of the right length, unsigned", "cursor="+strings.Repeat("A", 32), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor not base64url", "cursor="+strings.Repeat("%2B", 32), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor of 4000 characters", "cursor="+strings.Repeat("A", 4000), http.StatusBadRequest, []string{"cursor"}),
		Entry("cursor with after_id", "after_id=1&cursor=abc", http.StatusUnprocessableEntity, []string{"cursor"}),
	}

	DescribeTable("GET /tweets refuses bad page parameters",
		func(query string, status int, fields []string) {
			createTweet("exists", "")
			expectProblem(get("/tweets?"+query), status, fields...)
		},
		pageErrors,
	)

	DescribeTable("GET /users/{id}/tweets refuses bad page parameters",
		func(query string, status int, fields []string) {
			u := createUser("paged", "paged@example.com")
			createTweet("exists", u.APIKey)
			expectProblem(get(userPath(u.ID)+"/tweets?"+query), status, fields...)
		},
		pageErrors,
	)

	It("keeps every tweet created by 50 concurrent requests", func() {
		u := createUser("busy", "busy@example.com")
		const n = 50
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				rq := req(http.MethodPost, "/tweets").withJSON(tweetBody(fmt.Sprintf("concurrent #%d", i)))
				if i%2 == 0 {
					rq = rq.with("X-API-Key", u.APIKey)
				}
				results[i] = rq.send()
			})
		}
		wg.Wait()

		seen := map[int64]bool{}
		for i, r := range results {
			Expect(r.status).To(Equal(http.StatusCreated), "request %d: %s", i, r)
			t := decodeTweet(r)
			Expect(seen).NotTo(HaveKey(t.ID), "id %d given twice", t.ID)
			seen[t.ID] = true
			got := decodeTweet(get(tweetPath(t.ID)))
			Expect(got.Text).To(Equal(fmt.Sprintf("concurrent #%d", i)))
			if i%2 == 0 {
				Expect(got.User).To(Equal(&tweetBy{ID: u.ID, Username: "busy"}))
			} else {
				Expect(got.User).To(BeNil())
			}
		}
		// Listed once each; concurrent inserts may be listed out of id order.
		var want, mine []any
		for id := range seen {
			want = append(want, id)
		}
		Eventually(func() []int64 { return ids(get("/tweets?limit=200")) }).Should(ConsistOf(want...))
		for i, r := range results {
			if i%2 == 0 {
				mine = append(mine, decodeTweet(r).ID)
			}
		}
		Eventually(func() []int64 { return ids(get(userPath(u.ID) + "/tweets?limit=200")) }).Should(ConsistOf(mine...))
	})
})
