-- Sample data for the dev database: make seed. Idempotent: rerunning
-- inserts nothing twice. The API keys are for local use only; they are
-- printed below so you can try authenticated calls.
BEGIN;

CREATE TEMP TABLE seed_users (username text, email text, api_key text) ON COMMIT DROP;
INSERT INTO seed_users VALUES
    ('ada', 'ada@example.com', 'tw_seed_ada_dev_only_key_000000000000000000000'),
    ('grace', 'grace@example.com', 'tw_seed_grace_dev_only_key_0000000000000000000'),
    ('linus', 'linus@example.com', 'tw_seed_linus_dev_only_key_0000000000000000000');

-- Each new user's key is its current one in api_keys (and, as the API
-- writes it, in users.api_key_hash for the version before api_keys).
WITH added AS (
    INSERT INTO users (username, email, api_key_hash)
    SELECT username, email, sha256(convert_to(api_key, 'UTF8'))
    FROM seed_users
    ON CONFLICT DO NOTHING
    RETURNING id, api_key_hash, created_at
)
INSERT INTO api_keys (user_id, hash, created_at)
SELECT id, api_key_hash, created_at FROM added;

-- A seed user is found by its seed key: one whose name was taken first, or
-- whose key was replaced, is left alone.
CREATE TEMP VIEW seeded AS
SELECT s.username, s.api_key, k.user_id AS id
FROM seed_users s
JOIN api_keys k ON k.hash = sha256(convert_to(s.api_key, 'UTF8'))
    AND (k.expires_at IS NULL OR k.expires_at > now());

INSERT INTO tweets (text, user_id)
SELECT s.text, u.id
FROM (VALUES
    ('ada',   'The Analytical Engine weaves algebraic patterns just as the Jacquard loom weaves flowers and leaves.'),
    ('ada',   'That brain of mine is something more than merely mortal; as time will show.'),
    ('grace', 'The most dangerous phrase in the language is: we have always done it this way.'),
    ('grace', 'It is often easier to ask for forgiveness than to ask for permission.'),
    ('linus', 'Talk is cheap. Show me the code.'),
    (NULL,    'Goodbye World! (an anonymous tweet: anyone may edit it)')
) AS s(username, text)
LEFT JOIN seeded u ON u.username = s.username
WHERE (s.username IS NULL OR u.id IS NOT NULL)
  AND NOT EXISTS (
    SELECT 1 FROM tweets t
    WHERE t.text = s.text AND t.user_id IS NOT DISTINCT FROM u.id
);

-- Listed at once: inserted by hand, they have no list position until the
-- API's sweep numbers them, within a second (docs/lists.md).
SELECT tweets_assign_positions(1000) \g /dev/null

\echo 'Seeded users (dev-only API keys):'
SELECT id, username, api_key FROM seeded ORDER BY id;
SELECT count(*) AS tweets FROM tweets;
DROP VIEW seeded; -- before its table goes at COMMIT
COMMIT;
