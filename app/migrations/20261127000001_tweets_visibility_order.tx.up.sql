-- Keyset pages that never skip a tweet.
--
-- An id is drawn when a tweet is inserted but the tweet becomes visible only
-- when its transaction commits, so ids do not become visible in id order: a
-- reader that has moved past id 12 never sees an id 11 that commits later.
-- Lists therefore follow the inserting transaction's id (xid8, which never
-- wraps), then the tweet id, and show only tweets whose transaction is older
-- than every transaction still running (the store computes that horizon from
-- pg_current_snapshot() in the page's own statement). Everything below the
-- horizon is final, so a cursor never has to step back.
--
-- Rows that already exist sort first, in id order: nothing can be inserting
-- them now, because this migration holds the table's exclusive lock.
ALTER TABLE tweets ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE tweets ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

-- Serves GET /tweets and GET /users/{id}/tweets in list order.
CREATE INDEX tweets_xid_id_idx ON tweets (xid, id);
CREATE INDEX tweets_user_id_xid_id_idx ON tweets (user_id, xid, id);
DROP INDEX tweets_user_id_id_idx;
