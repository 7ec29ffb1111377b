#!/usr/bin/env bash
# Snapshots of the dev database, as PostgreSQL template databases in the
# dev server itself: a copy is made by CREATE DATABASE ... TEMPLATE, with
# no dump to write or load, so seed-sized data takes about a second. They
# live in the pgdata volume beside the dev database: make down and make up
# keep them, make clean deletes them.
#
#   bash devtools/db-snapshot.sh snapshot NAME   save the dev database as NAME (replacing one)
#   bash devtools/db-snapshot.sh restore NAME    replace the dev database with NAME
#   bash devtools/db-snapshot.sh list            list the snapshots
#   bash devtools/db-snapshot.sh drop NAME       delete snapshot NAME
#   bash devtools/db-snapshot.sh recreate        replace the dev database with an empty one
#
# The running API needs no restart: its connections to the dev database are
# ended and its pool opens new ones; requests in the moment between (the
# copy for a snapshot, the swap and a second after for a restore) may get
# 503, as /readyz reports.
set -euo pipefail
cd "$(dirname "$0")/.."

db=${POSTGRES_DB:-twitter}
user=${POSTGRES_USER:-twitter}
prefix=${db}_snapshot_
dev=(docker compose -p "$PROJECT" -f compose.dev.yml)

# psql on the server's maintenance database: the dev database itself is
# the one being replaced.
sql() { "${dev[@]}" exec -T -e PGOPTIONS='-c client_min_messages=warning' db psql -X -q -v ON_ERROR_STOP=1 -U "$user" -d postgres "$@"; }

name_arg() {
	if [[ ! "${1:-}" =~ ^[a-z0-9_]{1,40}$ ]]; then
		echo "db-snapshot: SNAP must be 1 to 40 of a-z, 0-9 and _, as in SNAP=before_migration (got '${1:-}')" >&2
		exit 2
	fi
	snap=$prefix$1
}

exists() { [[ "$(sql -tA -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" == 1 ]]; }

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
t0=$(ms)
took() { awk -v ms=$(($(ms) - t0)) 'BEGIN { printf "%.1f s", ms / 1000 }'; }

case "${1:-}" in
snapshot)
	name_arg "${2:-}"
	exists "$db" || { echo "db-snapshot: there is no dev database '$db' to save" >&2; exit 1; }
	# A template must have no other session while it is copied: the dev
	# database refuses new connections until the copy is made, and the
	# API's are ended (the copy waits up to 5 s for them to go).
	sql <<-SQL
		ALTER DATABASE "$db" WITH ALLOW_CONNECTIONS false;
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$db' \gset
	SQL
	ended=$(ms)
	status=0
	sql <<-SQL || status=$?
		SELECT format('ALTER DATABASE %I WITH IS_TEMPLATE false', '$snap') WHERE EXISTS (SELECT FROM pg_database WHERE datname = '$snap') \gexec
		DROP DATABASE IF EXISTS "$snap";
		CREATE DATABASE "$snap" TEMPLATE "$db";
		ALTER DATABASE "$snap" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false;
		COMMENT ON DATABASE "$snap" IS 'snapshot of $db taken $(date -u +%Y-%m-%dT%H:%M:%SZ)';
	SQL
	sql -c "ALTER DATABASE \"$db\" WITH ALLOW_CONNECTIONS true"
	((status == 0)) || exit "$status"
	# As after a restore (below): a second after the connections ended,
	# the API's pool checks each before use and replaces the ended ones.
	wait_ms=$((1100 - ($(ms) - ended)))
	((wait_ms <= 0)) || sleep "$(awk -v ms="$wait_ms" 'BEGIN { print ms / 1000 }')"
	echo "db-snapshot: saved the dev database as '$2' in $(took); make db-restore SNAP=$2 brings it back"
	;;
restore)
	name_arg "${2:-}"
	exists "$snap" || { echo "db-restore: no snapshot '$2'; make db-snapshots lists them" >&2; exit 1; }
	# The copy is made beside the dev database, which keeps serving; only
	# the swap (drop and rename, milliseconds) ends the API's connections.
	sql <<-SQL
		DROP DATABASE IF EXISTS "${db}_restoring";
		CREATE DATABASE "${db}_restoring" TEMPLATE "$snap";
	SQL
	sql <<-SQL
		DROP DATABASE IF EXISTS "$db" WITH (FORCE);
		ALTER DATABASE "${db}_restoring" RENAME TO "$db";
	SQL
	# The API's pool still holds its ended connections: one used within
	# the last second fails the request it serves (503); one idle longer
	# is checked before use and replaced (pgx's stdlib driver). A second
	# on, every request gets a live connection.
	sleep 1.1
	echo "db-restore: the dev database is now snapshot '$2' ($(took)); the API reconnected by itself"
	;;
list)
	sql -c "SELECT substr(datname, length('$prefix') + 1) AS snapshot,
	               pg_size_pretty(pg_database_size(oid)) AS size,
	               shobj_description(oid, 'pg_database') AS taken
	        FROM pg_database WHERE starts_with(datname, '$prefix') ORDER BY 1"
	;;
drop)
	name_arg "${2:-}"
	exists "$snap" || { echo "db-snapshot: no snapshot '$2'" >&2; exit 1; }
	sql <<-SQL
		ALTER DATABASE "$snap" WITH IS_TEMPLATE false;
		DROP DATABASE "$snap";
	SQL
	echo "db-snapshot: deleted snapshot '$2'"
	;;
recreate)
	sql <<-SQL
		DROP DATABASE IF EXISTS "$db" WITH (FORCE);
		CREATE DATABASE "$db" OWNER "$user";
	SQL
	;;
*)
	sed -n '8,12s/^#   //p' "$0" >&2
	exit 2
	;;
esac
