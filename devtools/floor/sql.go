package main

// The statements the floor runs: copies of app/store's, text for text, so
// that the benchmark compares the API with the same SQL run bare. The
// store's spec app/store/floor_test.go fails when a copy differs from the
// statement of the same name in the store; change both together.
// Constants only, and no imports: the spec type-checks this file alone.
const (
	getTweetSQL   = `SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM tweets t LEFT JOIN users u ON u.id = t.user_id WHERE t.id = $1`
	listTweetsSQL = `WITH h AS MATERIALIZED (
	SELECT coalesce(c.x, pg_snapshot_xmax(pg_current_snapshot())) AS xid,
		coalesce(pg_xact_status(c.x) <> 'in progress', false) AS ended
	FROM (SELECT min(x) AS x FROM pg_snapshot_xip(pg_current_snapshot()) AS x
		WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_get_activity(NULL) AS a
			WHERE a.backend_xid IS NOT NULL
			AND (a.datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
				OR a.backend_type = 'autovacuum worker'))) AS c)
SELECT h.ended, p.*
FROM h LEFT JOIN LATERAL (
	SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username
	FROM tweets t LEFT JOIN users u ON u.id = t.user_id
	WHERE t.xid < h.xid AND (t.xid, t.id) > (SELECT coalesce(c.xid, '0'), coalesce(c.id, 0) FROM (SELECT) AS one
	LEFT JOIN LATERAL (SELECT xid, id FROM tweets WHERE id <= $2 ORDER BY id DESC LIMIT 1) AS c ON true)
	ORDER BY t.xid, t.id LIMIT $1) AS p ON true`
	insertTweetSQL = `WITH t AS (INSERT INTO tweets (text, user_id) VALUES ($1, $2) RETURNING *)
SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM t LEFT JOIN users u ON u.id = t.user_id`
	updateTweetSQL = `WITH t AS (UPDATE tweets SET text = $1, updated_at = clock_timestamp()
WHERE id = $2 AND (user_id IS NULL OR user_id = $3) RETURNING *)
SELECT t.id, t.text, t.user_id, t.created_at, t.updated_at, u.username FROM t LEFT JOIN users u ON u.id = t.user_id`
	tweetOwnerSQL   = `SELECT user_id FROM tweets WHERE id = $1`
	authenticateSQL = `SELECT u.id, u.username, u.email, k.hash, u.created_at
FROM api_keys k JOIN users u ON u.id = k.user_id
WHERE k.hash = $1 AND (k.expires_at IS NULL OR k.expires_at > now())`
)
