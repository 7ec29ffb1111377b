package httpapi

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// pathID reads a positive integer id from the path.
func pathID(c *fiber.Ctx, name string) (int64, error) {
	raw := c.Params(name)
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest(fmt.Sprintf("%s must be a positive integer below 2^63, got %q", name, clip(raw, maxEchoBytes)),
			fieldError{Field: name, Message: "must be a positive integer"})
	}
	return id, nil
}

// pageParams reads ?limit=, ?cursor= and the deprecated ?after_id=:
// non-integers are 400s, integers out of range 422s; the store checks the
// cursor.
func pageParams(c *fiber.Ctx) (twitter.Page, error) {
	page := twitter.Page{Limit: twitter.DefaultPageLimit}
	var verr twitter.ValidationError
	if raw := c.Query("limit"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return page, badRequest(fmt.Sprintf("limit must be an integer, got %q", clip(raw, maxEchoBytes)),
				fieldError{Field: "limit", Message: "must be an integer"})
		case err != nil || n < 1 || n > twitter.MaxPageLimit:
			verr.Add("limit", fmt.Sprintf("must be between 1 and %d", twitter.MaxPageLimit))
		default:
			page.Limit = int(n)
		}
	}
	if raw := c.Query("after_id"); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			return page, badRequest(fmt.Sprintf("after_id must be an integer, got %q", clip(raw, maxEchoBytes)),
				fieldError{Field: "after_id", Message: "must be an integer"})
		case err != nil || n < 0:
			verr.Add("after_id", "must be between 0 and 2^63-1")
		default:
			page.AfterID = n
		}
	}
	page.Cursor = c.Query("cursor")
	if page.Cursor != "" && page.AfterID != 0 {
		verr.Add("cursor", "cannot be combined with after_id")
	}
	return page, verr.Err()
}

// setNextLink adds a Link header to the following page when there is
// one, and the cursor to poll from in Next-Cursor always.
func setNextLink(c *fiber.Ctx, page twitter.Page, p twitter.TweetPage) {
	c.Set(headerNextCursor, p.Next)
	if p.More {
		c.Set(fiber.HeaderLink, fmt.Sprintf(`<%s?limit=%d&cursor=%s>; rel="next"`, c.Path(), page.Limit, p.Next))
	}
}

// headerNextCursor carries the cursor after a list page's last tweet, also
// on the last page, where a follower polls from for newer tweets.
const headerNextCursor = "Next-Cursor"
