package main

// The statements the floor runs: copies of app/store's, text for text, so
// that the benchmark compares the API with the same SQL run bare.
// make floor-check (testdata/copies_test.go) fails when a copy differs from
// the statement of the same name in the store; change both together.
// Constants only, and no imports: the spec type-checks this file alone.
const (
	getTweetSQL          = `SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM tweets t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = $1`
	listTweetsAfterIDSQL = `SELECT a.pos, p.* FROM (SELECT coalesce((SELECT position FROM tweets
	WHERE id <= $2 AND position IS NOT NULL ORDER BY id DESC LIMIT 1), 0) AS pos) AS a
LEFT JOIN LATERAL (
	SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username, t.position FROM tweets t LEFT JOIN users u ON u.id = t.user_id
	WHERE t.position > a.pos ORDER BY t.position LIMIT $1) AS p ON true`
	updateTweetSQL = `WITH t AS (UPDATE tweets SET text = $1, updated_at = clock_timestamp()
WHERE id = $2 AND (user_id IS NULL OR user_id = $3) RETURNING *)
SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM t LEFT JOIN users u ON u.id = t.user_id`
	tweetOwnerSQL   = `SELECT user_id FROM tweets WHERE id = $1`
	authenticateSQL = `SELECT u.id, u.username, u.email, k.hash, u.created_at
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`
)
