package twitter

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on user input.
const (
	MaxTweetRunes     = 280
	MinUsernameLength = 3
	MaxUsernameLength = 30
	MaxEmailLength    = 254
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

// NormalizeTweetText trims surrounding white space and checks the result:
// 1 to 280 code points of valid UTF-8 without NUL.
func NormalizeTweetText(text string) (string, error) {
	var verr ValidationError
	if msg := checkText(text); msg != "" {
		verr.Add("text", msg)
		return "", &verr
	}
	text = strings.TrimFunc(text, unicode.IsSpace)
	switch n := utf8.RuneCountInString(text); {
	case n == 0:
		verr.Add("text", "must not be empty")
	case n > MaxTweetRunes:
		verr.Add("text", fmt.Sprintf("must be at most %d characters, got %d", MaxTweetRunes, n))
	}
	return text, verr.Err()
}

// Validate trims the fields of u and checks them.
func (u NewUser) Validate() (NewUser, error) {
	var verr ValidationError
	u.Username = strings.TrimFunc(u.Username, unicode.IsSpace)
	u.Email = strings.TrimFunc(u.Email, unicode.IsSpace)

	switch n := len(u.Username); {
	case checkText(u.Username) != "":
		verr.Add("username", checkText(u.Username))
	case n < MinUsernameLength || n > MaxUsernameLength:
		verr.Add("username", fmt.Sprintf("must be %d to %d characters long", MinUsernameLength, MaxUsernameLength))
	case !usernamePattern.MatchString(u.Username):
		verr.Add("username", "may contain only letters A-Z, digits and underscores")
	}

	switch {
	case checkText(u.Email) != "":
		verr.Add("email", checkText(u.Email))
	case u.Email == "":
		verr.Add("email", "must not be empty")
	case len(u.Email) > MaxEmailLength:
		verr.Add("email", fmt.Sprintf("must be at most %d bytes long", MaxEmailLength))
	case !isPlainAddress(u.Email):
		verr.Add("email", "must be a valid email address such as name@example.com")
	}
	return u, verr.Err()
}

// Validate checks p before any store sees it: a limit from 1 to
// MaxPageLimit and a non-negative AfterID. The zero Page is invalid.
func (p Page) Validate() error {
	var verr ValidationError
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		verr.Add("limit", fmt.Sprintf("must be between 1 and %d", MaxPageLimit))
	}
	if p.AfterID < 0 {
		verr.Add("after_id", "must be between 0 and 2^63-1")
	}
	return verr.Err()
}

// checkText returns why s cannot be stored as text, or "".
func checkText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case strings.ContainsRune(s, 0):
		return "must not contain NUL characters"
	}
	return ""
}

// isPlainAddress accepts a bare address with a dotted domain, such as
// "a@b.example", and rejects display names and angle brackets.
func isPlainAddress(s string) bool {
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}
