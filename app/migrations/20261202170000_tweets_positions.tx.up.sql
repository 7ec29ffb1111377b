-- Lists in commit order by a position that is data, not a transaction id.
--
-- The previous order (20261127000001: the inserting transaction's xid8
-- below a visibility horizon) belongs to one cluster: a pg_dump restored
-- into another server, or a logical-replication cutover, carries xid values
-- from a counter that was elsewhere, and lists hide or misorder them. A
-- position instead is a plain number, dumped and replicated with the row.
--
-- A position is drawn under the row lock of tweet_order, which the drawing
-- transaction holds until it commits, above every position given before.
-- So positions become visible in increasing order: a position, once
-- visible, is final, and every position that becomes visible later is
-- higher; a follower's cursor only moves forward and skips nothing. The
-- store's creates insert their tweets with positions, many in one statement
-- (app/store/creates.go). tweets_assign_positions() below numbers, after
-- commit, tweets inserted without one: by the previous version during a
-- rolling update, or by hand; the store runs it every second.
CREATE TABLE tweet_order (
    -- One row: a primary key, so logical replication carries its updates.
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    -- The highest position ever given; it never goes down, also when the
    -- tweet that had it is deleted.
    last_position bigint NOT NULL,
    -- Signs list cursors (HMAC-SHA256), so a cursor from a dump of this
    -- database still works where it is restored. gen_random_uuid() is the
    -- core's random source; two make 244 random bits.
    cursor_key    bytea  NOT NULL CHECK (length(cursor_key) = 32)
);

ALTER TABLE tweets ADD COLUMN position bigint;

-- Existing tweets keep the order they are listed in today. Nothing can be
-- inserting now: ADD COLUMN holds the table's exclusive lock.
UPDATE tweets t SET position = o.n
FROM (SELECT id, row_number() OVER (ORDER BY xid, id) AS n FROM tweets) AS o
WHERE t.id = o.id;

INSERT INTO tweet_order (last_position, cursor_key)
SELECT coalesce(max(position), 0),
       decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex')
FROM tweets;

-- Serves GET /tweets and GET /users/{id}/tweets in list order; unique,
-- because two tweets at one position would break a cursor.
CREATE UNIQUE INDEX tweets_position_key ON tweets (position);
CREATE INDEX tweets_user_id_position_idx ON tweets (user_id, position);
-- What tweets_assign_positions() has left to do; empty almost always.
CREATE INDEX tweets_unpositioned_idx ON tweets (id) WHERE position IS NULL;

-- Numbers up to max_rows committed tweets without a position, in id order,
-- above every position given before; returns how many. VOLATILE and in
-- READ COMMITTED, each statement below takes a new snapshot, so the
-- statements after the lock see what the previous holder committed.
CREATE FUNCTION tweets_assign_positions(max_rows integer) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    ids  bigint[];
    base bigint;
    done bigint;
    top  bigint;
BEGIN
    -- Nothing to do, nothing locked or written: the common case of a sweep.
    -- ORDER BY id LIMIT 1 reads tweets_unpositioned_idx; a bare EXISTS
    -- was planned as a scan of the whole table when statistics counted
    -- many rows without a position (make bench: 20 ms a call at 150k rows).
    PERFORM FROM (SELECT id FROM tweets WHERE position IS NULL ORDER BY id LIMIT 1) AS first;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- One caller at a time, until it commits.
    SELECT last_position INTO base FROM tweet_order FOR UPDATE;
    -- A cutover that carried the tweets but not this row leaves it behind.
    base := greatest(base, coalesce((SELECT max(position) FROM tweets), 0));
    -- Through an array: as a join, the update was planned for max_rows
    -- rows and scanned the whole table (26 ms at 136k rows).
    SELECT array_agg(id ORDER BY id) INTO ids
    FROM (SELECT id FROM tweets WHERE position IS NULL ORDER BY id LIMIT max_rows) AS todo;
    IF ids IS NULL THEN
        RETURN 0;
    END IF;
    WITH given AS (
        UPDATE tweets t SET position = base + u.n
        FROM unnest(ids) WITH ORDINALITY AS u(id, n)
        WHERE t.id = u.id RETURNING t.position
    )
    SELECT count(*), max(position) INTO done, top FROM given;
    -- A tweet deleted meanwhile leaves a gap; top is what was given.
    IF top IS NOT NULL THEN
        UPDATE tweet_order SET last_position = top;
    END IF;
    RETURN done;
END $$;

-- The previous version lists by xid while both run (a rolling update), so
-- the xid column, its default and its indexes stay; a later migration drops
-- them once no such version runs.
