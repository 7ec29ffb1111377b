package store_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("a create's answer", func() {
	holdOrder := tdb.HoldOrder
	waiting := func(ctx context.Context) func() (int, error) {
		return func() (int, error) { return tdb.ServiceLockWaits(ctx) }
	}
	rows := func(ctx context.Context) func() (int, error) {
		return func() (int, error) {
			var n int
			err := tdb.QueryRow(ctx, "SELECT count(*) FROM tweets").Scan(&n)
			return n, err
		}
	}
	// unavailable is what the API answers 503 to.
	unavailable := Satisfy(func(err error) bool {
		return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
			errors.Is(err, twitter.ErrUnavailable)
	})

	DescribeTable("is a failure with no row, ever, when the request ends while its statement waits",
		func(ctx SpecContext, deadline time.Duration) {
			lock := holdOrder(ctx)
			rctx, cancel := context.WithCancel(ctx)
			if deadline > 0 {
				rctx, cancel = context.WithTimeout(ctx, deadline)
			}
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := store.NewTweets(tdb.DB).Create(rctx, "told to retry", nil)
				done <- err
			}()
			Eventually(waiting(ctx)).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(Equal(1), "the statement waits on the lock")
			if deadline == 0 {
				cancel()
			}
			var err error
			Eventually(done).WithTimeout(deadline + 5*time.Second).Should(Receive(&err))
			Expect(err).To(unavailable)

			Expect(lock.Rollback(ctx)).To(Succeed())
			Consistently(rows(ctx)).WithTimeout(time.Second).WithPolling(100*time.Millisecond).Should(BeZero(),
				"a request told it failed left nothing to commit once the lock went")
		},
		Entry("its deadline passing", 1500*time.Millisecond),
		Entry("cancelled, as at the end of a drain", time.Duration(0)),
	)

	It("is the commit's for a request that ended after its statement was sent, while another of the batch waits on", func(ctx SpecContext) {
		lock := holdOrder(ctx)
		short, cancelShort := context.WithCancel(ctx)
		defer cancelShort()
		done := make(chan []error, 1)
		go func() { done <- tdb.DB.InsertBatch(short, ctx) }()
		Eventually(waiting(ctx)).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal(1))
		cancelShort()
		Consistently(done).WithTimeout(300*time.Millisecond).ShouldNot(Receive(), "its statement still runs for the other")

		Expect(lock.Rollback(ctx)).To(Succeed())
		var errs []error
		Eventually(done).WithTimeout(5 * time.Second).Should(Receive(&errs))
		Expect(errs).To(HaveEach(BeNil()), "both committed, so both are answered as created")
		Expect(rows(ctx)()).To(Equal(2))
	})

	It("leaves out of its statement a request that ended before it, and only that one", func(ctx SpecContext) {
		ended, cancel := context.WithCancel(ctx)
		cancel()
		errs := tdb.DB.InsertBatch(ended, ctx)
		Expect(errs[0]).To(MatchError(context.Canceled))
		Expect(errs[1]).To(Succeed())
		Expect(rows(ctx)()).To(Equal(1))
	})

	It("cancels the statement on the server, so the connection goes on serving", func(ctx SpecContext) {
		lock := holdOrder(ctx)
		rctx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := store.NewTweets(tdb.DB).Create(rctx, "cancelled", nil)
			done <- err
		}()
		Eventually(waiting(ctx)).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).Should(Equal(1))
		cancel()
		var err error
		Eventually(done).WithTimeout(5 * time.Second).Should(Receive(&err))
		Expect(err).To(MatchError(twitter.ErrUnavailable))
		Eventually(waiting(ctx)).WithTimeout(2*time.Second).WithPolling(20*time.Millisecond).Should(BeZero(),
			"nothing still waits on the server: a closed connection would leave its statement waiting there")
		Expect(lock.Rollback(ctx)).To(Succeed())
	})
})
