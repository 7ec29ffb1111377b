package httpapi

import (
	"errors"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// handleCreateUser registers a user and returns its API key, once.
//
//	@Summary		Create a user
//	@Description	Returns the user with its API key. The key is shown only in this response and stored only as a SHA-256 hash. With an Idempotency-Key, a retry of the same request within 24 h gets the first answer, key included, and creates nothing; the answer is kept encrypted under the Idempotency-Key.
//	@Tags			users
//	@Accept			json
//	@Produce		json,application/problem+json
//	@Param			user			body		userRequest	true	"The new user"
//	@Param			Idempotency-Key	header		string		false	"Makes retries safe: a unique value per sign-up, such as a UUID, quoted or not (at most 255 printable ASCII characters)"
//	@Success		201		{object}	createdUserResponse
//	@Header			201		{string}	Location		"/users/{id}"
//	@Header			201		{string}	Cache-Control	"no-store: the response holds the only copy of the API key"
//	@Failure		400		{object}	problem	"Malformed JSON or Idempotency-Key"
//	@Failure		409		{object}	problem	"Username or email taken, or the first request with this Idempotency-Key still in progress"
//	@Header			409		{string}	Retry-After	"With an Idempotency-Key still in progress: seconds to wait before retrying"
//	@Failure		415		{object}	problem	"Not JSON"
//	@Failure		422		{object}	problem	"Invalid username or email, or an Idempotency-Key sent before with another request"
//	@Failure		429		{object}	problem	"Too many sign-ups from this client (RATE_LIMIT_SIGNUPS a RATE_WINDOW, per replica)"
//	@Header			429		{string}	Retry-After	"Seconds until the client's window resets"
//	@Router			/users [post]
func handleCreateUser(users twitter.UserService) actorHandler {
	return func(c *fiber.Ctx, _ *twitter.User) error {
		// The response holds the only copy of the API key: no cache may keep it.
		c.Set(fiber.HeaderCacheControl, "no-store")
		var req userRequest
		if err := decodeJSON(c, &req); err != nil {
			return err
		}
		// Type errors come first; rule errors are added for the other fields.
		var verr twitter.ValidationError
		username, _ := req.Username.check("username", &verr)
		email, _ := req.Email.check("email", &verr)
		nu, err := twitter.NewUser{Username: username, Email: email}.Validate()
		var rules *twitter.ValidationError
		if errors.As(err, &rules) {
			for _, f := range rules.Fields {
				if !verr.Has(f.Field) {
					verr.Add(f.Field, f.Message)
				}
			}
		}
		if err := verr.Err(); err != nil {
			return err
		}
		key, hash := twitter.NewAPIKey()
		u, err := users.Create(c.UserContext(), nu, hash)
		if err != nil {
			return err
		}
		c.Location("/users/" + strconv.FormatInt(u.ID, 10))
		return c.Status(fiber.StatusCreated).JSON(createdUserResponse{
			ID: u.ID, Username: u.Username, Email: u.Email, CreatedAt: u.CreatedAt.UTC(), APIKey: key,
		})
	}
}

// handleGetUser returns a user's public profile.
//
//	@Summary		Get a user
//	@Description	The public profile: never the email or the API key.
//	@Tags			users
//	@Produce		json,application/problem+json
//	@Param			id	path		int	true	"User id"	minimum(1)
//	@Success		200	{object}	userResponse
//	@Failure		400	{object}	problem	"Malformed id"
//	@Failure		404	{object}	problem	"No such user"
//	@Router			/users/{id} [get]
func handleGetUser(users twitter.UserService) fiber.Handler {
	return func(c *fiber.Ctx) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		u, err := users.Get(c.UserContext(), id)
		if err != nil {
			return err
		}
		return c.JSON(userResponse{ID: u.ID, Username: u.Username, CreatedAt: u.CreatedAt.UTC()})
	}
}

// handleDeleteUser deletes the account the request is authenticated as.
//
//	@Summary		Delete a user
//	@Description	Authenticated as user {id}, with its current key (a previous key still in its overlap gets 403). Deletes the account, all its API keys and all its tweets, at once and for good: the tweets are not kept as anonymous ones, which anyone could then change.
//	@Tags			users
//	@Produce		json,application/problem+json
//	@Param			id	path	int	true	"User id"	minimum(1)
//	@Security		APIKey
//	@Success		204
//	@Failure		400	{object}	problem	"Malformed id"
//	@Failure		401	{object}	problem	"Missing, unknown or expired API key"
//	@Failure		403	{object}	problem	"Another user's account, or a previous key of this one"
//	@Failure		429	{object}	problem	"Too many key rotations, revocations and account deletions by this user (RATE_LIMIT_ACCOUNT a RATE_WINDOW, per replica)"
//	@Router			/users/{id} [delete]
func handleDeleteUser(users twitter.UserService) actorHandler {
	return actOnAccount(func(c *fiber.Ctx, id int64) error {
		return users.Delete(c.UserContext(), id, c.Get(headerAPIKey))
	})
}
