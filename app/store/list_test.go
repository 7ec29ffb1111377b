package store_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/twitter"
)

var _ = Describe("Tweets and Users", func() {
	Describe("List", func() {
		BeforeEach(func(ctx SpecContext) {
			for i := 1; i <= 5; i++ {
				_, err := tweets.Create(ctx, fmt.Sprintf("t%d", i), nil)
				Expect(err).NotTo(HaveOccurred())
			}
		})

		texts := func(ts []twitter.Tweet) []string {
			out := make([]string, len(ts))
			for i, t := range ts {
				out[i] = t.Text
			}
			return out
		}

		It("pages through all tweets in id order, by cursor and by the deprecated after_id", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 2})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t1", "t2"}))
			Expect(p.More).To(BeTrue())

			byID, err := tweets.List(ctx, twitter.Page{Limit: 2, AfterID: p.Tweets[1].ID})
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t3", "t4"}))
			Expect(p.More).To(BeTrue())
			Expect(byID).To(Equal(p), "after_id gives the same page and cursor")

			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t5"}))
			Expect(p.More).To(BeFalse())

			last := p.Next
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: last})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.Next).To(Equal(last), "an empty page keeps the cursor")
			_, err = tweets.Create(ctx, "t6", nil)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 2, Cursor: last})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t6"}), "a poll from the last cursor")
		})

		It("refuses a malformed or forged cursor with ErrBadCursor", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 1})
			Expect(err).NotTo(HaveOccurred())
			raw, err := base64.RawURLEncoding.DecodeString(p.Next)
			Expect(err).NotTo(HaveOccurred())
			forged := bytes.Clone(raw)
			forged[7]++ // another position, the old signature
			flipped := bytes.Clone(raw)
			flipped[len(flipped)-1] ^= 1
			for _, c := range []string{
				"x", "not a cursor", p.Next + "A", p.Next[1:], strings.Repeat("A", 5000), "!!!!" + p.Next[4:],
				base64.RawURLEncoding.EncodeToString(forged),
				base64.RawURLEncoding.EncodeToString(flipped),
				base64.RawURLEncoding.EncodeToString(make([]byte, 24)),
			} {
				_, err := tweets.List(ctx, twitter.Page{Limit: 1, Cursor: c})
				Expect(err).To(MatchError(twitter.ErrBadCursor), c)
			}
		})

		It("keeps a cursor's place when its tweet is deleted or changed", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 2})
			Expect(err).NotTo(HaveOccurred())
			Expect(tweets.Delete(ctx, p.Tweets[1].ID, nil)).To(Succeed())
			_, err = tweets.Update(ctx, p.Tweets[0].ID, "changed", nil)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.List(ctx, twitter.Page{Limit: 10, Cursor: p.Next})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"t3", "t4", "t5"}))
		})

		It("says no more when the page is exactly full", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 5})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(HaveLen(5))
			Expect(p.More).To(BeFalse())
		})

		It("returns an empty page past the end", func(ctx SpecContext) {
			p, err := tweets.List(ctx, twitter.Page{Limit: 5, AfterID: 1 << 62})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.More).To(BeFalse())
		})

		It("lists one user's tweets only", func(ctx SpecContext) {
			u, _ := newUser(ctx, "grace")
			_, err := tweets.Create(ctx, "g1", &u)
			Expect(err).NotTo(HaveOccurred())
			p, err := tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10})
			Expect(err).NotTo(HaveOccurred())
			Expect(texts(p.Tweets)).To(Equal([]string{"g1"}))
			Expect(p.More).To(BeFalse())
		})

		It("reports an unknown user as ErrNotFound", func(ctx SpecContext) {
			_, err := tweets.ListByUser(ctx, 4242, twitter.Page{Limit: 10})
			Expect(err).To(MatchError(twitter.ErrNotFound))
		})

		It("refuses an invalid page with a ValidationError, never querying with it", func(ctx SpecContext) {
			u, _ := newUser(ctx, "pager")
			for _, p := range []twitter.Page{{}, {Limit: -1}, {Limit: twitter.MaxPageLimit + 1}, {Limit: 1, AfterID: -1}, {Limit: 1, AfterID: 1, Cursor: "x"}} {
				var verr *twitter.ValidationError
				_, err := tweets.List(ctx, p)
				Expect(errors.As(err, &verr)).To(BeTrue(), "List(%+v): %v", p, err)
				_, err = tweets.ListByUser(ctx, u.ID, p)
				Expect(errors.As(err, &verr)).To(BeTrue(), "ListByUser(%+v): %v", p, err)
			}
		})

		It("returns an empty page, not ErrNotFound, for a user without tweets or past their last", func(ctx SpecContext) {
			u, _ := newUser(ctx, "quiet")
			p, err := tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
			Expect(p.More).To(BeFalse())
			_, err = tweets.Create(ctx, "q1", &u)
			Expect(err).NotTo(HaveOccurred())
			p, err = tweets.ListByUser(ctx, u.ID, twitter.Page{Limit: 10, AfterID: 1 << 62})
			Expect(err).NotTo(HaveOccurred())
			Expect(p.Tweets).To(BeEmpty())
		})
	})
})
