-- Positions, the high-water mark and the cursor key are derived: the
-- previous version's xid order is intact, and cursors stop working.
-- derived table: tweet_order
DROP FUNCTION tweets_assign_positions(integer);
DROP INDEX tweets_unpositioned_idx;
DROP INDEX tweets_user_id_position_idx;
DROP INDEX tweets_position_key;
ALTER TABLE tweets DROP COLUMN position;
DROP TABLE tweet_order;
