-- The answers of creates sent with an Idempotency-Key header (POST /tweets,
-- POST /users): a retry with the same key and request gets the first answer
-- for 24 h instead of creating again, on any replica and after a restart.
-- See docs/reliability-and-security.md.
CREATE TABLE idempotency_keys (
    -- SHA-256 of the key and its scope (the user of a keyed request, or
    -- none): the key itself is never stored.
    key_hash    bytea       PRIMARY KEY CHECK (length(key_hash) = 32),
    -- The user the key is scoped to; NULL for an anonymous request. The
    -- account's records go with it.
    user_id     bigint      REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the request (method, path, body): a retry must match it.
    fingerprint bytea       NOT NULL CHECK (length(fingerprint) = 32),
    -- The answer: NULL while the first request runs.
    status      smallint,
    location    text,
    -- The answer's body, AES-256-GCM under a key derived from the
    -- Idempotency-Key, which only the client holds: a copy of the database
    -- holds no API key that a POST /users answered.
    body        bytea,
    expires_at  timestamptz NOT NULL
);

-- The foreign key's cascade on user deletion, and the sweep of expired keys.
CREATE INDEX idempotency_keys_user_id_idx ON idempotency_keys (user_id);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);
