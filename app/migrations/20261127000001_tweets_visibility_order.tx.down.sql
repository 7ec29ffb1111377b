CREATE INDEX tweets_user_id_id_idx ON tweets (user_id, id);
DROP INDEX tweets_user_id_xid_id_idx;
DROP INDEX tweets_xid_id_idx;
ALTER TABLE tweets DROP COLUMN xid;
