package twitter

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
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
// 1 to 280 code points of valid UTF-8, without control characters other
// than newline and tab, and without bidirectional overrides.
func NormalizeTweetText(text string) (string, error) {
	var verr ValidationError
	if msg := checkText(text); msg != "" {
		verr.Add("text", msg)
		return "", &verr
	}
	text = strings.TrimFunc(text, unicode.IsSpace)
	if msg := checkShown(text); msg != "" {
		verr.Add("text", msg)
		return "", &verr
	}
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
	// Stored, and so compared, in NFC: two spellings that look the same
	// ("é" as one code point or as "e" and a combining accent) are one.
	if checkText(u.Username) == "" {
		u.Username = norm.NFC.String(u.Username)
	}
	if checkText(u.Email) == "" {
		u.Email = norm.NFC.String(u.Email)
	}

	switch n := len(u.Username); {
	case checkText(u.Username) != "":
		verr.Add("username", checkText(u.Username))
	case checkShown(u.Username) != "":
		verr.Add("username", checkShown(u.Username))
	case n < MinUsernameLength || n > MaxUsernameLength:
		verr.Add("username", fmt.Sprintf("must be %d to %d characters long", MinUsernameLength, MaxUsernameLength))
	case !usernamePattern.MatchString(u.Username):
		verr.Add("username", "may contain only letters A-Z, digits and underscores")
	}

	switch {
	case checkText(u.Email) != "":
		verr.Add("email", checkText(u.Email))
	case checkShown(u.Email) != "":
		verr.Add("email", checkShown(u.Email))
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
// MaxPageLimit, a non-negative AfterID, and not both AfterID and Cursor.
// The zero Page is invalid.
func (p Page) Validate() error {
	var verr ValidationError
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		verr.Add("limit", fmt.Sprintf("must be between 1 and %d", MaxPageLimit))
	}
	if p.AfterID < 0 {
		verr.Add("after_id", "must be between 0 and 2^63-1")
	}
	if p.AfterID != 0 && p.Cursor != "" {
		verr.Add("cursor", "cannot be combined with after_id")
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

// checkShown returns why s would not show as what it is, or "": a control
// character (C0, DEL or C1) other than newline and tab, or a bidirectional
// embedding, override or isolate, which reorders the text around it.
func checkShown(s string) string {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case unicode.IsControl(r):
			return "must not contain control characters other than newline and tab"
		case r >= '\u202A' && r <= '\u202E', r >= '\u2066' && r <= '\u2069':
			return "must not contain bidirectional override characters (U+202A to U+202E, U+2066 to U+2069)"
		}
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
