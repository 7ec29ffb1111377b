package httpapi_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
)

var _ = Describe("Idempotency-Key", func() {
	const key = `"5f0c1e52-7a53-4f5e-9d1e-3c1f2b8a9d40"`

	count := func(query string, args ...any) int {
		GinkgoHelper()
		var n int
		Expect(tdb.QueryRow(context.Background(), query, args...).Scan(&n)).To(Succeed())
		return n
	}
	tweets := func() int { return count("SELECT count(*) FROM tweets") }
	post := func(body, idemKey, apiKey string) request {
		return req(http.MethodPost, "/tweets").withJSON(body).with("Idempotency-Key", idemKey).with("X-API-Key", apiKey)
	}
	// expectSame expects r to be the first answer again.
	expectSame := func(r, first result) {
		GinkgoHelper()
		Expect(r.status).To(Equal(first.status), "response: %s", r)
		Expect(r.body).To(Equal(first.body))
		Expect(r.header.Get("Location")).To(Equal(first.header.Get("Location")))
		Expect(r.header.Get("Content-Type")).To(HavePrefix("application/json"))
	}

	It("answers a retry of POST /tweets with the first answer and creates one tweet", func() {
		first := post(tweetBody("once"), key, "").send()
		Expect(first.status).To(Equal(http.StatusCreated), "response: %s", first)
		for range 2 {
			expectSame(post(tweetBody("once"), key, "").send(), first)
		}
		Expect(tweets()).To(Equal(1))
		Expect(get(first.header.Get("Location")).status).To(Equal(http.StatusOK))
	})

	It("creates one tweet for concurrent duplicates: the others get the first answer or 409 with Retry-After", func() {
		const n = 8
		results := make([]result, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				defer GinkgoRecover()
				results[i] = post(tweetBody("raced"), key, "").send()
			})
		}
		wg.Wait()
		var created []result
		for _, r := range results {
			if r.status == http.StatusConflict {
				expectProblem(r, http.StatusConflict)
				Expect(r.header.Get("Retry-After")).To(Equal("1"))
				continue
			}
			Expect(r.status).To(Equal(http.StatusCreated), "response: %s", r)
			created = append(created, r)
		}
		Expect(created).NotTo(BeEmpty())
		for _, r := range created {
			expectSame(r, created[0])
		}
		Expect(tweets()).To(Equal(1))
		expectSame(post(tweetBody("raced"), key, "").send(), created[0])
	})

	It("answers 409 while the first request runs, then the first answer", func(ctx SpecContext) {
		lock := tdb.HoldOrder(ctx)
		firstDone := make(chan result, 1)
		go func() {
			defer GinkgoRecover()
			firstDone <- post(tweetBody("slow"), key, "").send()
		}()
		Eventually(func() (int, error) { return tdb.ServiceLockWaits(ctx) }).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal(1))

		p := expectProblem(post(tweetBody("slow"), key, "").send(), http.StatusConflict)
		Expect(p["detail"]).To(ContainSubstring("in progress"))
		Expect(lock.Rollback(ctx)).To(Succeed())
		var first result
		Eventually(firstDone).WithTimeout(10 * time.Second).Should(Receive(&first))
		Expect(first.status).To(Equal(http.StatusCreated))
		expectSame(post(tweetBody("slow"), key, "").send(), first)
		Expect(tweets()).To(Equal(1))
	})

	It("holds across a restart: a new app over a new pool answers the retry from the database", func() {
		first := post(tweetBody("before the restart"), key, "").send()
		Expect(first.status).To(Equal(http.StatusCreated))
		db, err := store.Open(tdb.DSN, store.Options{MaxOpenConns: 2, MaxIdleConns: 2})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(db.Close)
		expectSame(post(tweetBody("before the restart"), key, "").on(newApp(db)), first)
		Expect(tweets()).To(Equal(1))
	})

	It("refuses the same key with another body with 422, creating nothing", func() {
		Expect(post(tweetBody("first"), key, "").send().status).To(Equal(http.StatusCreated))
		p := expectProblem(post(tweetBody("second"), key, "").send(), http.StatusUnprocessableEntity, "Idempotency-Key")
		Expect(p["detail"]).To(ContainSubstring("another request"))
		expectProblem(req(http.MethodPost, "/users").withJSON(userBody("keyed", "keyed@example.com")).
			with("Idempotency-Key", key).send(), http.StatusUnprocessableEntity, "Idempotency-Key")
		Expect(tweets()).To(Equal(1))
		Expect(count("SELECT count(*) FROM users")).To(BeZero())
	})

	It("scopes a keyed create's key to its user: the same key is another user's own, and any key of the user finds it", func() {
		ada := createUser("ada", "ada@example.com")
		bob := createUser("bob", "bob@example.com")
		first := post(tweetBody("mine"), key, ada.APIKey).send()
		Expect(first.status).To(Equal(http.StatusCreated))
		Expect(post(tweetBody("mine"), key, bob.APIKey).send().status).To(Equal(http.StatusCreated), "bob's own key space")
		Expect(post(tweetBody("mine"), key, "").send().status).To(Equal(http.StatusCreated), "the anonymous key space")
		Expect(tweets()).To(Equal(3))

		k := rotate(app, ada.ID, ada.APIKey, "")
		expectSame(post(tweetBody("mine"), key, k.APIKey).send(), first)
		Expect(tweets()).To(Equal(3))
	})

	It("answers a retry of POST /users with the first answer, its API key included, which the database holds only encrypted", func() {
		body := userBody("once", "once@example.com")
		first := req(http.MethodPost, "/users").withJSON(body).with("Idempotency-Key", key).send()
		Expect(first.status).To(Equal(http.StatusCreated), "response: %s", first)
		again := req(http.MethodPost, "/users").withJSON(body).with("Idempotency-Key", key).send()
		expectSame(again, first)
		Expect(again.header.Get("Cache-Control")).To(Equal("no-store"))
		Expect(count("SELECT count(*) FROM users")).To(Equal(1))

		apiKey, _ := first.object()["api_key"].(string)
		Expect(apiKey).NotTo(BeEmpty())
		var stored []byte
		Expect(tdb.QueryRow(context.Background(), "SELECT body FROM idempotency_keys").Scan(&stored)).To(Succeed())
		Expect(stored).NotTo(BeEmpty())
		Expect(bytes.Contains(stored, []byte(apiKey))).To(BeFalse(), "no API key in a copy of the database")
		Expect(bytes.Contains(stored, []byte("once@example.com"))).To(BeFalse())
	})

	It("keeps no error answer: the key is free for the retry", func() {
		expectProblem(post(tweetBody(""), key, "").send(), http.StatusUnprocessableEntity, "text")
		Expect(count("SELECT count(*) FROM idempotency_keys")).To(BeZero())
		Expect(post(tweetBody("fixed"), key, "").send().status).To(Equal(http.StatusCreated))
		Expect(tweets()).To(Equal(1))
	})

	It("starts again once the first answer has expired", func() {
		Expect(post(tweetBody("yesterday"), key, "").send().status).To(Equal(http.StatusCreated))
		Expect(tdb.Exec(context.Background(), "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")).To(Succeed())
		Expect(post(tweetBody("today"), key, "").send().status).To(Equal(http.StatusCreated), "another body: the key is free again")
		Expect(tweets()).To(Equal(2))

		Expect(tdb.Exec(context.Background(), "UPDATE idempotency_keys SET expires_at = now() - interval '1 second'")).To(Succeed())
		Expect(tdb.DB.DeleteExpiredIdempotencyKeys(context.Background())).To(Succeed())
		Expect(count("SELECT count(*) FROM idempotency_keys")).To(BeZero(), "the sweep deletes expired keys")
	})

	DescribeTable("refuses a malformed key with 400, creating nothing",
		func(value string) {
			expectProblem(post(tweetBody("never"), value, "").send(), http.StatusBadRequest, "Idempotency-Key")
			Expect(tweets()).To(BeZero())
		},
		Entry("empty", `""`),
		Entry("blank", "   "),
		Entry("longer than 255 characters", strings.Repeat("k", 256)),
		Entry("with a quote inside", `"a"b"`),
		Entry("with a space, unquoted", "a b"),
		Entry("not ASCII", "clé"),
	)

	It("accepts a bare key as well as the draft's quoted string, and 255 characters", func() {
		long := strings.Repeat("k", 255)
		first := post(tweetBody("bare"), long, "").send()
		Expect(first.status).To(Equal(http.StatusCreated))
		expectSame(post(tweetBody("bare"), `"`+long+`"`, "").send(), first)
		Expect(tweets()).To(Equal(1))
	})
})
