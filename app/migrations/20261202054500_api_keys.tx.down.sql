DROP TRIGGER users_api_key_hash_to_api_keys ON users;
DROP FUNCTION api_keys_from_users();

-- Each user's current key goes back into users.api_key_hash; the keys that
-- were only overlapping are lost, as the version before knows one a user.
UPDATE users u SET api_key_hash = k.hash
FROM api_keys k
WHERE k.user_id = u.id AND k.expires_at IS NULL;
ALTER TABLE users ALTER COLUMN api_key_hash SET NOT NULL;
DROP TABLE api_keys;
