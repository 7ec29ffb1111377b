-- API keys in a table of their own, so that a user can hold more than one:
-- after a rotation the previous keys keep working until expires_at, and a
-- key can be revoked alone. Every user has exactly one current key
-- (expires_at NULL); the store keeps that so.
CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the key; the key itself is never stored.
    hash       bytea       NOT NULL CHECK (length(hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL for the current key; set when a newer key replaces it.
    expires_at timestamptz
);

-- Authentication looks a key up by its hash.
CREATE UNIQUE INDEX api_keys_hash_key ON api_keys (hash);
-- Rotation and revocation work on one user's keys; the foreign key's
-- cascade on user deletion uses it too.
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);

INSERT INTO api_keys (user_id, hash, created_at)
SELECT id, api_key_hash, created_at FROM users;

-- The version before this one knows only users.api_key_hash. While both
-- versions may run (a rolling update), the column stays, nullable:
--  * this version writes a new user's first key there too, so the version
--    before accepts it; the first rotation clears it, so a key replaced or
--    revoked here is not still accepted there;
--  * a user the version before creates gets its key into api_keys through
--    this trigger, so that key keeps working once only this version runs.
-- A later migration drops the column and the trigger.
ALTER TABLE users ALTER COLUMN api_key_hash DROP NOT NULL;

CREATE FUNCTION api_keys_from_users() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO api_keys (user_id, hash, created_at)
    VALUES (NEW.id, NEW.api_key_hash, NEW.created_at)
    ON CONFLICT (hash) DO NOTHING; -- this version inserted it already
    RETURN NULL;
END $$;

CREATE TRIGGER users_api_key_hash_to_api_keys
    AFTER INSERT ON users
    FOR EACH ROW WHEN (NEW.api_key_hash IS NOT NULL)
    EXECUTE FUNCTION api_keys_from_users();
