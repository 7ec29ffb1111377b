package httpapi

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// handleListTweets lists tweets.
//
//	@Summary		List tweets
//	@Description	All tweets, oldest first, a page at a time. When more remain, the Link header points to the next page; Next-Cursor always holds the cursor after the page's last tweet. The order is the order tweets became final (ascending id except where inserts overlapped): following Link, or polling with cursor set to the last Next-Cursor, returns every tweet exactly once, also when tweets are deleted or the database was restored. A new tweet is listed once its create has answered.
//	@Tags			tweets
//	@Produce		json,application/problem+json
//	@Param			limit		query		int	false	"Page size"							minimum(1)	maximum(200)	default(50)
//	@Param			cursor		query		string	false	"Return the tweets after this cursor, from Next-Cursor or Link; opaque and signed"
//	@Param			after_id	query		int	false	"Deprecated, use cursor: return the tweets after the one with this id (if it was deleted, after the nearest lower id, which may skip tweets that committed out of id order)"	minimum(0)
//	@Success		200			{array}		tweetResponse
//	@Header			200			{string}	Link	"<...>; rel=\"next\" when another page exists"
//	@Header			200			{string}	Next-Cursor	"The cursor after this page's last tweet, also on the last page: poll with it for newer tweets"
//	@Failure		400			{object}	problem	"Non-numeric parameter, or a malformed or forged cursor"
//	@Failure		422			{object}	problem	"Parameter out of range"
//	@Router			/tweets [get]
func handleListTweets(tweets twitter.TweetService) fiber.Handler {
	return func(c *fiber.Ctx) error {
		page, err := positionPageParams(c)
		if err != nil {
			return err
		}
		listed, err := tweets.List(c.UserContext(), page)
		if err != nil {
			return err
		}
		return sendPage(c, page, listed)
	}
}

// handleListUserTweets lists one user's tweets.
//
//	@Summary		List a user's tweets
//	@Description	The user's tweets, oldest first, in the same order and paginated like GET /tweets.
//	@Tags			users
//	@Produce		json,application/problem+json
//	@Param			id			path		int	true	"User id"	minimum(1)
//	@Param			limit		query		int	false	"Page size"							minimum(1)	maximum(200)	default(50)
//	@Param			cursor		query		string	false	"Return the tweets after this cursor, from Next-Cursor or Link; opaque and signed"
//	@Param			after_id	query		int	false	"Deprecated, use cursor: return the tweets after the one with this id (if it was deleted, after the nearest lower id, which may skip tweets that committed out of id order)"	minimum(0)
//	@Success		200			{array}		tweetResponse
//	@Header			200			{string}	Link	"<...>; rel=\"next\" when another page exists"
//	@Header			200			{string}	Next-Cursor	"The cursor after this page's last tweet, also on the last page: poll with it for newer tweets"
//	@Failure		400			{object}	problem	"Malformed id or parameter, or a malformed or forged cursor"
//	@Failure		404			{object}	problem	"No such user"
//	@Failure		422			{object}	problem	"Parameter out of range"
//	@Router			/users/{id}/tweets [get]
func handleListUserTweets(tweets twitter.TweetService) fiber.Handler {
	return listUserTweets(positionPageParams, tweets.ListByUser)
}

// handleCreateTweet creates a tweet.
//
//	@Summary		Create a tweet
//	@Description	With a valid X-API-Key the caller becomes the author; without one the tweet is anonymous and anyone may change it. With an Idempotency-Key, a retry of the same request (same body, and the same user when keyed) within 24 h gets the first answer and creates nothing.
//	@Tags			tweets
//	@Accept			json
//	@Produce		json,application/problem+json
//	@Param			tweet			body		tweetRequest	true	"The tweet"
//	@Param			Idempotency-Key	header		string			false	"Makes retries safe: a unique value per create, such as a UUID, quoted or not (at most 255 printable ASCII characters)"
//	@Security		Anonymous
//	@Security		APIKey
//	@Success		201		{object}	tweetResponse
//	@Header			201		{string}	Location	"/tweets/{id}"
//	@Failure		400		{object}	problem	"Malformed JSON or Idempotency-Key"
//	@Failure		401		{object}	problem	"Unknown API key"
//	@Failure		409		{object}	problem	"The first request with this Idempotency-Key is still in progress"
//	@Header			409		{string}	Retry-After	"Seconds to wait before retrying"
//	@Failure		415		{object}	problem	"Not JSON"
//	@Failure		422		{object}	problem	"Invalid text, or an Idempotency-Key sent before with another request"
//	@Failure		429		{object}	problem	"Too many writes without an API key from this client, or with one by this user (RATE_LIMIT_ANONYMOUS_WRITES, RATE_LIMIT_KEYED_WRITES a RATE_WINDOW, per replica)"
//	@Header			429		{string}	Retry-After	"Seconds until the client's window resets"
//	@Router			/tweets [post]
func handleCreateTweet(tweets twitter.TweetService) actorHandler {
	return func(c *fiber.Ctx, actor *twitter.User) error {
		text, err := decodeTweetText(c)
		if err != nil {
			return err
		}
		t, err := tweets.Create(c.UserContext(), text, actor)
		if err != nil {
			return err
		}
		c.Location("/tweets/" + strconv.FormatInt(t.ID, 10))
		return sendTweet(c, fiber.StatusCreated, t)
	}
}

// handleGetTweet returns one tweet.
//
//	@Summary	Get a tweet
//	@Tags		tweets
//	@Produce	json,application/problem+json
//	@Param		id	path		int	true	"Tweet id"	minimum(1)
//	@Success	200	{object}	tweetResponse
//	@Failure	400	{object}	problem	"Malformed id"
//	@Failure	404	{object}	problem	"No such tweet"
//	@Router		/tweets/{id} [get]
func handleGetTweet(tweets twitter.TweetService) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		t, err := tweets.Get(c.UserContext(), id)
		if err != nil {
			return err
		}
		return sendTweet(c, fiber.StatusOK, t)
	}
}

// handleUpdateTweet changes a tweet's text.
//
//	@Summary		Change a tweet
//	@Description	A tweet with an author may be changed only with that author's X-API-Key; an anonymous tweet by anyone.
//	@Tags			tweets
//	@Accept			json
//	@Produce		json,application/problem+json
//	@Param			id		path		int				true	"Tweet id"	minimum(1)
//	@Param			tweet	body		tweetRequest	true	"The new text"
//	@Security		Anonymous
//	@Security		APIKey
//	@Success		200		{object}	tweetResponse
//	@Failure		400		{object}	problem	"Malformed id or JSON"
//	@Failure		401		{object}	problem	"Missing or unknown API key"
//	@Failure		403		{object}	problem	"Another user's tweet"
//	@Failure		404		{object}	problem	"No such tweet"
//	@Failure		415		{object}	problem	"Not JSON"
//	@Failure		422		{object}	problem	"Invalid text"
//	@Failure		429		{object}	problem	"Too many writes without an API key from this client, or with one by this user (RATE_LIMIT_ANONYMOUS_WRITES, RATE_LIMIT_KEYED_WRITES a RATE_WINDOW, per replica)"
//	@Header			429		{string}	Retry-After	"Seconds until the client's window resets"
//	@Router			/tweets/{id} [patch]
func handleUpdateTweet(tweets twitter.TweetService) actorHandler {
	return func(c *fiber.Ctx, actor *twitter.User) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		text, err := decodeTweetText(c)
		if err != nil {
			return err
		}
		t, err := tweets.Update(c.UserContext(), id, text, actor)
		if err != nil {
			return err
		}
		return sendTweet(c, fiber.StatusOK, t)
	}
}

// handleDeleteTweet deletes a tweet.
//
//	@Summary		Delete a tweet
//	@Description	A tweet with an author may be deleted only with that author's X-API-Key; an anonymous tweet by anyone.
//	@Tags			tweets
//	@Produce		json,application/problem+json
//	@Param			id	path	int	true	"Tweet id"	minimum(1)
//	@Security		Anonymous
//	@Security		APIKey
//	@Success		204
//	@Failure		400	{object}	problem	"Malformed id"
//	@Failure		401	{object}	problem	"Missing or unknown API key"
//	@Failure		403	{object}	problem	"Another user's tweet"
//	@Failure		404	{object}	problem	"No such tweet"
//	@Failure		429		{object}	problem	"Too many writes without an API key from this client, or with one by this user (RATE_LIMIT_ANONYMOUS_WRITES, RATE_LIMIT_KEYED_WRITES a RATE_WINDOW, per replica)"
//	@Header			429		{string}	Retry-After	"Seconds until the client's window resets"
//	@Router			/tweets/{id} [delete]
func handleDeleteTweet(tweets twitter.TweetService) actorHandler {
	return actOnTweet(tweets.Delete)
}

// tweetAction does something to tweet id for actor (nil when anonymous):
// a domain method value such as TweetService.Delete.
type tweetAction func(ctx context.Context, id int64, actor *twitter.User) error

// actOnTweet is the handler of a route that acts on the tweet its path
// names and answers 204 No Content.
func actOnTweet(act tweetAction) actorHandler {
	return func(c *fiber.Ctx, actor *twitter.User) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		if err := act(c.UserContext(), id, actor); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}

func decodeTweetText(c *fiber.Ctx) (string, error) {
	var req tweetRequest
	if err := decodeJSON(c, &req); err != nil {
		return "", err
	}
	var verr twitter.ValidationError
	text, ok := req.Text.check("text", &verr)
	if !ok {
		return "", &verr
	}
	return twitter.NormalizeTweetText(text)
}
