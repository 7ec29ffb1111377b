package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Tweets are the bulk of what the API sends, up to 200 to a page. They are
// written straight into one buffer, byte for byte what encoding/json makes
// of tweetResponse (a spec compares the two), without the intermediate
// response structs, reflection or per-field allocations.

// sendTweet writes one tweet with status.
func sendTweet(c *fiber.Ctx, status int, t twitter.Tweet) error {
	return sendJSON(c, status, appendTweet(make([]byte, 0, 256), t))
}

// sendTweets writes a JSON array of tweets.
func sendTweets(c *fiber.Ctx, ts []twitter.Tweet) error {
	b := make([]byte, 0, 2+len(ts)*256)
	b = append(b, '[')
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTweet(b, t)
	}
	return sendJSON(c, fiber.StatusOK, append(b, ']'))
}

func sendJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	// The buffer is the response's from here on: no copy.
	c.Response().SetBodyRaw(body)
	return nil
}

// appendTweet appends t as encoding/json marshals newTweetResponse(t).
func appendTweet(b []byte, t twitter.Tweet) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, t.ID, 10)
	b = append(b, `,"text":`...)
	b = appendString(b, t.Text)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, t.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendTime(b, t.UpdatedAt)
	if t.Author == nil {
		return append(b, `,"user":null}`...)
	}
	b = append(b, `,"user":{"id":`...)
	b = strconv.AppendInt(b, t.Author.ID, 10)
	b = append(b, `,"username":`...)
	b = appendString(b, t.Author.Username)
	return append(b, "}}"...)
}

// appendTime appends t in UTC as time.Time's MarshalJSON does.
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string escaped as encoding/json does by
// default: HTML-sensitive characters, U+2028 and U+2029 escaped, invalid
// UTF-8 replaced by U+FFFD (written as the character, as Go 1.27 does;
// stored text is valid UTF-8 anyway).
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, "\uFFFD"...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
