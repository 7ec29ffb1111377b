package httpapi

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// Values of keyRequest.PreviousKeys.
const (
	previousKeysOverlap = "overlap"
	previousKeysRevoke  = "revoke"
)

// handleRotateKey issues a new API key to the user the request is
// authenticated as.
//
//	@Summary		Issue a new API key
//	@Description	Authenticated as user {id}, with its current key: a previous key still in its overlap may read and write tweets, but gets 403 here. The new key becomes the current one and is shown only in this response. The user's other keys keep working for the overlap (API_KEY_OVERLAP, 24 h by default; an earlier expiry is kept), or stop at once with "previous_keys": "revoke", for a key that leaked. The body may be left out.
//	@Tags			users
//	@Accept			json
//	@Produce		json,application/problem+json
//	@Param			id		path		int			true	"User id"	minimum(1)
//	@Param			keys	body		keyRequest	false	"What happens to the previous keys"
//	@Security		APIKey
//	@Success		201		{object}	createdKeyResponse
//	@Header			201		{string}	Cache-Control	"no-store: the response holds the only copy of the API key"
//	@Failure		400		{object}	problem	"Malformed id or JSON"
//	@Failure		401		{object}	problem	"Missing, unknown or expired API key"
//	@Failure		403		{object}	problem	"Another user's account, or a previous key of this one"
//	@Failure		415		{object}	problem	"Not JSON"
//	@Failure		422		{object}	problem	"Unknown value of previous_keys"
//	@Failure		429		{object}	problem	"Too many key rotations, revocations and account deletions by this user (RATE_LIMIT_ACCOUNT a RATE_WINDOW, per replica)"
//	@Router			/users/{id}/keys [post]
func handleRotateKey(users twitter.UserService, overlap time.Duration) actorHandler {
	return func(c *fiber.Ctx, actor *twitter.User) error {
		// The response holds the only copy of the new key: no cache may keep it.
		c.Set(fiber.HeaderCacheControl, "no-store")
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		if err := twitter.CanManage(actor, id); err != nil {
			return err
		}
		revoke, err := decodeKeyRequest(c)
		if err != nil {
			return err
		}
		keep := overlap
		if revoke {
			keep = 0
		}
		key, hash := twitter.NewAPIKey()
		rot, err := users.RotateKey(c.UserContext(), id, c.Get(headerAPIKey), hash, keep)
		if err != nil {
			return err
		}
		return c.Status(fiber.StatusCreated).JSON(createdKeyResponse{
			UserID: id, APIKey: key, CreatedAt: rot.CreatedAt, PreviousKeysExpireAt: rot.PreviousExpireAt,
		})
	}
}

// decodeKeyRequest reads the optional body of POST /users/{id}/keys and
// reports whether the previous keys are to be revoked at once.
func decodeKeyRequest(c *fiber.Ctx) (revoke bool, err error) {
	if len(c.Request().Body()) == 0 {
		return false, nil
	}
	var req keyRequest
	if err := decodeJSON(c, &req); err != nil {
		return false, err
	}
	if req.PreviousKeys.WrongType == "" && !req.PreviousKeys.Present {
		return false, nil // left out or null: the default
	}
	var verr twitter.ValidationError
	v, ok := req.PreviousKeys.check("previous_keys", &verr)
	switch {
	case !ok:
		return false, &verr
	case v == previousKeysOverlap:
		return false, nil
	case v == previousKeysRevoke:
		return true, nil
	}
	return false, invalid("previous_keys", `must be "overlap" or "revoke"`)
}

// handleRevokeKey revokes the API key the request is authenticated with.
//
//	@Summary		Revoke the API key used
//	@Description	Ends, at once, the key this request is authenticated with: a previous key of user {id}, still in its overlap after POST /users/{id}/keys. The current key is never revoked alone (409): replace it with POST /users/{id}/keys, or delete the account.
//	@Tags			users
//	@Produce		json,application/problem+json
//	@Param			id	path	int	true	"User id"	minimum(1)
//	@Security		APIKey
//	@Success		204
//	@Failure		400	{object}	problem	"Malformed id"
//	@Failure		401	{object}	problem	"Missing, unknown or expired API key"
//	@Failure		403	{object}	problem	"Another user's account"
//	@Failure		409	{object}	problem	"The key is the account's current one"
//	@Failure		429	{object}	problem	"Too many key rotations, revocations and account deletions by this user (RATE_LIMIT_ACCOUNT a RATE_WINDOW, per replica)"
//	@Router			/users/{id}/keys/current [delete]
func handleRevokeKey(users twitter.UserService) actorHandler {
	return actOnAccount(func(c *fiber.Ctx, id int64) error {
		return users.RevokeKey(c.UserContext(), id, c.Get(headerAPIKey))
	})
}

// actOnAccount is the handler of a route that acts on the account its path
// names, for that account's own user only, and answers 204 No Content.
func actOnAccount(act func(c *fiber.Ctx, id int64) error) actorHandler {
	return func(c *fiber.Ctx, actor *twitter.User) error {
		id, err := pathID(c, "id")
		if err != nil {
			return err
		}
		if err := twitter.CanManage(actor, id); err != nil {
			return err
		}
		if err := act(c, id); err != nil {
			return err
		}
		return c.SendStatus(fiber.StatusNoContent)
	}
}
