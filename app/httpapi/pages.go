package httpapi

import (
	"context"
	"fmt"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Lists a page at a time: the page parameters every list takes, the Link and
// Next-Cursor of the answer, and the handler of a list of a user's tweets.

// pageParams reads ?limit= and ?cursor=, the page of any list: a limit that
// is not an integer is a 400, the domain's Page.Validate refuses the rest
// (422), and the store checks the cursor (400).
//
//nolint:unused // every new list's (docs/adding-a-resource.md); GET /tweets reads after_id too
func pageParams(c *fiber.Ctx) (twitter.Page, error) { return readPage(c, false) }

// positionPageParams also reads the deprecated ?after_id= of the lists in
// position order.
func positionPageParams(c *fiber.Ctx) (twitter.Page, error) { return readPage(c, true) }

func readPage(c *fiber.Ctx, withAfterID bool) (twitter.Page, error) {
	page := twitter.Page{Cursor: c.Query("cursor")}
	limit, err := queryInt(c, "limit", twitter.DefaultPageLimit)
	if err != nil {
		return page, err
	}
	page.Limit = int(limit)
	if withAfterID {
		if page.AfterID, err = queryInt(c, "after_id", 0); err != nil {
			return page, err
		}
	}
	return page, page.Validate()
}

// sendPage answers with listed, the page of tweets page asked for: a Link
// header to the following page when there is one, and always the cursor to
// poll from in Next-Cursor.
func sendPage(c *fiber.Ctx, page twitter.Page, listed twitter.TweetPage) error {
	c.Set(headerNextCursor, listed.Next)
	if listed.More {
		c.Set(fiber.HeaderLink, fmt.Sprintf(`<%s?limit=%d&cursor=%s>; rel="next"`, c.Path(), page.Limit, listed.Next))
	}
	return sendTweets(c, listed.Tweets)
}

// headerNextCursor carries the cursor after a list page's last tweet, also
// on the last page, where a follower polls from for newer tweets.
const headerNextCursor = "Next-Cursor"

// A userTweetList returns a page of a list of user userID's tweets: a
// domain method value such as TweetService.ListByUser.
type userTweetList func(ctx context.Context, userID int64, page twitter.Page) (twitter.TweetPage, error)

// listUserTweets is the handler of a route that lists tweets of the user
// its path names, reading the page with params (pageParams, or
// positionPageParams for the lists in position order).
func listUserTweets(params func(*fiber.Ctx) (twitter.Page, error), list userTweetList) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		page, err := params(c)
		if err != nil {
			return err
		}
		listed, err := list(c.UserContext(), id, page)
		if err != nil {
			return err
		}
		return sendPage(c, page, listed)
	}
}
