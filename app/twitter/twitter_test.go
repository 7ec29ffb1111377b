package twitter_test

import (
	"errors"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/twitter"
)

func fieldsOf(err error) []twitter.FieldError {
	var verr *twitter.ValidationError
	Expect(errors.As(err, &verr)).To(BeTrue(), "want a ValidationError, got %v", err)
	return verr.Fields
}

var _ = Describe("NormalizeTweetText", func() {
	It("trims surrounding white space", func() {
		Expect(twitter.NormalizeTweetText(" \t\n hello world \u00a0\n")).To(Equal("hello world"))
	})

	It("counts characters, not bytes: 280 emoji are fine", func() {
		text := strings.Repeat("🐦", 280)
		Expect(twitter.NormalizeTweetText(text)).To(Equal(text))
	})

	DescribeTable("rejects",
		func(text, message string) {
			_, err := twitter.NormalizeTweetText(text)
			Expect(fieldsOf(err)).To(ConsistOf(twitter.FieldError{Field: "text", Message: message}))
		},
		Entry("empty text", "", "must not be empty"),
		Entry("only white space", " \n\t ", "must not be empty"),
		Entry("281 characters", strings.Repeat("é", 281), "must be at most 280 characters, got 281"),
		Entry("a NUL character", "a\x00b", "must not contain NUL characters"),
		Entry("invalid UTF-8", "a\xffb", "must be valid UTF-8"),
		Entry("a carriage return inside", "a\rb", "must not contain control characters other than newline and tab"),
		Entry("an escape character", "a\x1b[31mred", "must not contain control characters other than newline and tab"),
		Entry("DEL", "a\x7fb", "must not contain control characters other than newline and tab"),
		Entry("a C1 control", "a\u0085b", "must not contain control characters other than newline and tab"),
		Entry("a right-to-left override", "abc\u202Etxt.exe", "must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)"),
		Entry("a first-strong isolate", "a\u2068b", "must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)"),
	)

	It("keeps newlines and tabs inside", func() {
		Expect(twitter.NormalizeTweetText("a\n\tb")).To(Equal("a\n\tb"))
	})
})

var _ = Describe("NewUser.Validate", func() {
	It("accepts and trims a good user", func() {
		u, err := twitter.NewUser{Username: " Ada_99 ", Email: " ada@example.com "}.Validate()
		Expect(err).NotTo(HaveOccurred())
		Expect(u).To(Equal(twitter.NewUser{Username: "Ada_99", Email: "ada@example.com"}))
	})

	DescribeTable("rejects",
		func(u twitter.NewUser, field string) {
			_, err := u.Validate()
			Expect(fieldsOf(err)).To(ConsistOf(HaveField("Field", field)))
		},
		Entry("a 2-character username", twitter.NewUser{Username: "ab", Email: "a@b.io"}, "username"),
		Entry("a 31-character username", twitter.NewUser{Username: strings.Repeat("a", 31), Email: "a@b.io"}, "username"),
		Entry("a username with a dash", twitter.NewUser{Username: "ada-l", Email: "a@b.io"}, "username"),
		Entry("a username with a non-ASCII letter", twitter.NewUser{Username: "adé", Email: "a@b.io"}, "username"),
		Entry("an email without @", twitter.NewUser{Username: "ada", Email: "ada.example.com"}, "email"),
		Entry("an email with a display name", twitter.NewUser{Username: "ada", Email: "Ada <ada@example.com>"}, "email"),
		Entry("an email without a dotted domain", twitter.NewUser{Username: "ada", Email: "ada@localhost"}, "email"),
		Entry("an empty email", twitter.NewUser{Username: "ada", Email: ""}, "email"),
		Entry("an over-long email", twitter.NewUser{Username: "ada", Email: strings.Repeat("a", 250) + "@b.io"}, "email"),
		Entry("an email with NUL", twitter.NewUser{Username: "ada", Email: "a\x00@b.io"}, "email"),
		Entry("a username with a control character", twitter.NewUser{Username: "ada\x1b", Email: "a@b.io"}, "username"),
		Entry("an email with a bidirectional override", twitter.NewUser{Username: "ada", Email: "\u202Eoi.b@a"}, "email"),
	)

	It("stores emails in NFC", func() {
		u, err := twitter.NewUser{Username: "ada", Email: "re\u0301ne@example.com"}.Validate()
		Expect(err).NotTo(HaveOccurred())
		Expect(u.Email).To(Equal("r\u00e9ne@example.com"))
	})

	It("reports every invalid field at once", func() {
		_, err := twitter.NewUser{Username: "x", Email: "nope"}.Validate()
		Expect(fieldsOf(err)).To(HaveLen(2))
	})
})

var _ = Describe("Page.Validate", func() {
	It("accepts the bounds", func() {
		Expect(twitter.Page{Limit: 1}.Validate()).To(Succeed())
		Expect(twitter.Page{AfterID: 1<<63 - 1, Limit: twitter.MaxPageLimit}.Validate()).To(Succeed())
	})

	DescribeTable("rejects, naming the field",
		func(p twitter.Page, fields ...string) {
			err := p.Validate()
			var verr *twitter.ValidationError
			Expect(errors.As(err, &verr)).To(BeTrue(), "%v", err)
			names := make([]string, len(verr.Fields))
			for i, f := range verr.Fields {
				names[i] = f.Field
			}
			Expect(names).To(Equal(fields))
		},
		Entry("the zero Page", twitter.Page{}, "limit"),
		Entry("a negative limit", twitter.Page{Limit: -1}, "limit"),
		Entry("a limit over the maximum", twitter.Page{Limit: twitter.MaxPageLimit + 1}, "limit"),
		Entry("a negative after id", twitter.Page{AfterID: -1, Limit: 10}, "after_id"),
		Entry("both", twitter.Page{AfterID: -5}, "limit", "after_id"),
		Entry("a cursor with an after id", twitter.Page{AfterID: 1, Cursor: "c", Limit: 10}, "cursor"),
	)
})

var _ = Describe("CanModify", func() {
	author := &twitter.Author{ID: 1, Username: "ada"}
	owner := &twitter.User{ID: 1}
	other := &twitter.User{ID: 2}

	It("lets anyone change an anonymous tweet", func() {
		Expect(twitter.CanModify(twitter.Tweet{}, nil)).To(Succeed())
		Expect(twitter.CanModify(twitter.Tweet{}, other)).To(Succeed())
	})
	It("lets the author change their tweet", func() {
		Expect(twitter.CanModify(twitter.Tweet{Author: author}, owner)).To(Succeed())
	})
	It("asks for a key when there is none", func() {
		Expect(twitter.CanModify(twitter.Tweet{Author: author}, nil)).To(MatchError(twitter.ErrUnauthorized))
	})
	It("forbids other users", func() {
		Expect(twitter.CanModify(twitter.Tweet{Author: author}, other)).To(MatchError(twitter.ErrForbidden))
	})
})

var _ = Describe("CanManage", func() {
	It("lets only the user itself manage its account", func() {
		Expect(twitter.CanManage(&twitter.User{ID: 7}, 7)).To(Succeed())
		Expect(twitter.CanManage(&twitter.User{ID: 8}, 7)).To(MatchError(twitter.ErrForbidden))
		Expect(twitter.CanManage(nil, 7)).To(MatchError(twitter.ErrUnauthorized))
	})
})

var _ = Describe("API keys", func() {
	It("are random, well formed and hashed with SHA-256", func() {
		k1, h1 := twitter.NewAPIKey()
		k2, _ := twitter.NewAPIKey()
		Expect(k1).NotTo(Equal(k2))
		Expect(k1).To(MatchRegexp(`^tw_[A-Za-z0-9_-]{43}$`))
		Expect(twitter.WellFormedAPIKey(k1)).To(BeTrue())
		Expect(h1).To(HaveLen(32))
		Expect(twitter.HashAPIKey(k1)).To(Equal(h1))
	})

	DescribeTable("refuses malformed keys without a lookup",
		func(key string) { Expect(twitter.WellFormedAPIKey(key)).To(BeFalse()) },
		Entry("empty", ""),
		Entry("no prefix", strings.Repeat("a", 46)),
		Entry("too short", "tw_abc"),
		Entry("bad characters", "tw_"+strings.Repeat("!", 43)),
	)
})
