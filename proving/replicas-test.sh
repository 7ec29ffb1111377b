#!/usr/bin/env bash
# make replicas-test: the release image as a replica set. Three replicas
# behind HAProxy (deploy/haproxy/haproxy.cfg) over one PostgreSQL, driven
# through proving/compose.replicas.yml:
#   1. three `migrate up` at once on an empty database: each migration is
#      applied exactly once, and no run fails;
#   2. steady reads and creates from proving/load (vegeta) through HAProxy,
#      on 127.0.0.1 only, while the replicas restart one by one (each waits
#      for the previous one to be back in rotation): no request may fail;
#   3. one replica SIGKILLed under the same load: only requests in flight on
#      it may fail, and HAProxy must stop routing to it within
#      KILL_DETECT_MAX_MS; then it rejoins, and nothing fails again;
#   4. a rollout, under the same load, of the next version: the release
#      image rebuilt with one more migration (NEXT_IMAGE). A replica of it
#      starts before that migration has run and must stay out of rotation
#      (/readyz 503 naming the schema) for HOLD_S; then its `migrate up`
#      runs, it joins, and it replaces the old replicas one by one, each old
#      one stopped (SIGTERM) only once a new one is in rotation, as a
#      Deployment with maxSurge 1 and maxUnavailable 0 does. No request may
#      fail, and no replica of it may serve before its schema is there;
#   5. every acknowledged create is in the database.
# Everything is removed at the end, pass or fail.
#
#   LB_PORT=5233 RATE=120 CONCURRENCY=16 HOLD_S=3 make replicas-test
set -euo pipefail
cd "$(dirname "$0")/.."

LB_PORT=${LB_PORT:-5233}
RATE=${RATE:-120}
CONCURRENCY=${CONCURRENCY:-16}
KILL_DETECT_MAX_MS=${KILL_DETECT_MAX_MS:-5000}
HOLD_S=${HOLD_S:-3}
GO_IMAGE=${GO_IMAGE:-golang:1.27-trixie}
uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}

project=$PROJECT-replicas
load=$project-load
NEXT_IMAGE=${NEXT_IMAGE:-${IMAGE%:*}:next}
export IMAGE NEXT_IMAGE LB_PORT
# A throwaway password, so none is written anywhere.
REPLICAS_DB_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
export REPLICAS_DB_PASSWORD
compose=(docker compose -p "$project" --project-directory . -f proving/compose.replicas.yml --profile migrate --profile next)
work=$(mktemp -d)
started=$SECONDS

cleanup() {
	docker rm -f "$load" >/dev/null 2>&1 || true
	"${compose[@]}" down --volumes --remove-orphans --timeout 2 >/dev/null 2>&1 || true
	docker image rm "$NEXT_IMAGE" >/dev/null 2>&1 || true # rebuilt by every run
	rm -rf "$work"
}
trap cleanup EXIT
step() { printf 'replicas: [%3ds] %s\n' $((SECONDS - started)) "$*"; }
fail() {
	echo "replicas: FAIL: $*" >&2
	docker logs --tail 40 "$load" 2>&1 | sed 's/^/  load| /' >&2 || true
	"${compose[@]}" logs --tail 15 --no-color lb api-1 api-2 api-3 api-4 api-5 api-6 2>&1 | sed 's/^/  /' >&2 || true
	exit 1
}
wait_for() { # seconds, description, command...
	local until=$((SECONDS + $1)) what=$2; shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < until)) || fail "timed out waiting for $what"
		sleep 0.1
	done
}
now_ns() { date +%s%N; }
sql() { "${compose[@]}" exec -T db psql -q -At -v ON_ERROR_STOP=1 -U replicas -d replicas "$@"; }

# HAProxy's view of a replica: a field of its row in the stats CSV (status,
# chkdown: UP to DOWN transitions, stot: requests sent to it, check_code...).
admin=
lb_stat() { # replica, field
	curl -fsS --max-time 2 "http://$admin/stats;csv" | awk -F, -v s="$1" -v f="$2" '
		NR == 1 { sub(/^# /, ""); for (i = 1; i <= NF; i++) col[$i] = i; next }
		$1 == "replicas" && $2 == s { print $col[f] }'
}
in_rotation() { [[ $(lb_stat "$1" status) == UP* ]]; }
# In rotation again after being taken out: more UP to DOWN transitions than downs.
rejoined() { in_rotation "$1" && (($(lb_stat "$1" chkdown) > $2)); }
out_of_rotation() { ! in_rotation "$1"; }
# Out, and why: its /readyz answers 503 (it is up but not ready).
backend_refuses() { [[ $(lb_stat "$1" status) == DOWN* && $(lb_stat "$1" check_code) == 503 ]]; }
# GET path on a replica from inside the network, body on stdout.
on_replica() { docker run --rm --network "${project}_default" "$GO_IMAGE" curl -sS --max-time 3 "http://$1:5000$2"; }

step "release image $IMAGE; building the next version, $NEXT_IMAGE"
docker image inspect "$IMAGE" >/dev/null || fail "no image $IMAGE: run make image"
# The next version is this tree with one more migration, which sorts after
# every real one: a schema change the running version does not know.
next_ctx=$work/next
mkdir -p "$next_ctx/docs"
cp -R Dockerfile go.mod go.sum app "$next_ctx/"
cp docs/*.go "$next_ctx/docs/"
next_migration=99991231235959_replicas_test_next
printf -- '-- The next version of make replicas-test: a table the running one does not know.\nCREATE TABLE replicas_test_next (id int PRIMARY KEY);\n' \
	>"$next_ctx/app/migrations/$next_migration.tx.up.sql"
printf 'DROP TABLE replicas_test_next;\n' >"$next_ctx/app/migrations/$next_migration.tx.down.sql"
docker build --quiet --build-arg VERSION=next -t "$NEXT_IMAGE" "$next_ctx" >/dev/null || fail "building $NEXT_IMAGE"

step "PostgreSQL, empty"
"${compose[@]}" up --detach --wait db >/dev/null 2>&1 || fail "PostgreSQL did not start"

step "three migrate up at once"
pids=()
for i in 1 2 3; do
	"${compose[@]}" run --rm --no-deps -T migrate >"$work/migrate-$i.log" 2>&1 &
	pids+=($!)
done
for i in 1 2 3; do
	wait "${pids[$((i - 1))]}" || { cat "$work"/migrate-*.log >&2; fail "migrate run $i failed"; }
	printf '  run %d: %s\n' "$i" "$(grep -E '^(applied|nothing)' "$work/migrate-$i.log" | paste -sd, -)"
done
want=$(ls app/migrations/*.up.sql | wc -l)
applied=$(cat "$work"/migrate-*.log | grep -c '^applied ' || true)
dups=$(cat "$work"/migrate-*.log | grep '^applied ' | sort | uniq -d)
rows=$(sql -c "SELECT count(*) || ' ' || count(DISTINCT name) FROM bun_migrations")
[[ -z $dups ]] || fail "applied twice: $dups"
[[ $applied == "$want" ]] || fail "$applied migrations applied across the runs, want $want"
[[ $rows == "$want $want" ]] || fail "bun_migrations holds $rows (rows, distinct), want $want"
step "each of the $want migrations applied exactly once, no run failed"

step "three replicas and HAProxy"
"${compose[@]}" up --detach --wait api-1 api-2 api-3 lb >/dev/null 2>&1 || fail "the replicas did not start"
admin=$("${compose[@]}" port lb 8404 | head -n 1)
for r in api-1 api-2 api-3; do wait_for 30 "$r in rotation" in_rotation "$r"; done

step "load through 127.0.0.1:$LB_PORT: $RATE req/s, $CONCURRENCY clients (reads and creates)"
docker run --detach --name "$load" --network host -u "$uid:$gid" \
	-v "$PWD:/src:ro" -w /src -v "$work:/out" \
	-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
	-e GOCACHE=/cache -e GOFLAGS=-buildvcs=false -e HOME=/tmp \
	"$GO_IMAGE" sh -c "go -C proving build -o /tmp/load ./load && exec /tmp/load -soak \
		-url http://127.0.0.1:$LB_PORT -rate $RATE -concurrency $CONCURRENCY \
		-phases steady,rolling,kill,rejoin,rollout -max-duration 6m -ids-out /out/ids -ready-file /out/ready" >/dev/null
wait_for 300 "the load to start" test -f "$work/ready"
next_phase() { docker kill --signal USR1 "$load" >/dev/null; }
sleep 5

next_phase
step "rolling restart, one replica at a time"
for r in api-1 api-2 api-3; do
	downs=$(lb_stat "$r" chkdown) t0=$(now_ns)
	"${compose[@]}" restart --timeout 10 "$r" >/dev/null 2>&1 || fail "restart $r"
	t1=$(now_ns)
	# It left rotation and came back.
	wait_for 30 "$r back in rotation" rejoined "$r" "$downs"
	t2=$(now_ns)
	printf '  %s: stopped and started in %d ms, back in rotation %d ms later\n' "$r" $(((t1 - t0) / 1000000)) $(((t2 - t1) / 1000000))
	sleep 1
done
sleep 2

next_phase
step "SIGKILL api-2 under load"
sleep 2
t0=$(now_ns)
docker kill --signal KILL "$("${compose[@]}" ps -q api-2)" >/dev/null
wait_for 10 "HAProxy to drop api-2" out_of_rotation api-2
detect_ms=$((($(now_ns) - t0) / 1000000))
printf '  HAProxy stopped routing to api-2 %d ms after the kill\n' "$detect_ms"
sleep 3

next_phase
step "api-2 starts again and rejoins"
"${compose[@]}" start api-2 >/dev/null 2>&1 || fail "start api-2"
wait_for 30 "api-2 back in rotation" in_rotation api-2
sleep 3

next_phase
step "rollout of $NEXT_IMAGE under load"
t_roll=$(now_ns)
# api-4 starts before its migration has run.
"${compose[@]}" up --detach --no-deps api-4 >/dev/null 2>&1 || fail "start api-4"
wait_for 30 "api-4 to answer /readyz with 503" backend_refuses api-4
t_refused=$(now_ns)
body=$(on_replica api-4 /readyz) || fail "GET /readyz on api-4"
[[ $body == *"lacks migrations"* ]] || fail "api-4 /readyz without the schema's reason: $body"
[[ $(on_replica api-4 /healthz) == *'"status":"ok"'* ]] || fail "api-4 is not live"
sleep "$HOLD_S"
backend_refuses api-4 || fail "api-4 went into rotation before its migration ran"
[[ $(lb_stat api-4 stot) == 0 ]] || fail "api-4 served $(lb_stat api-4 stot) requests before its migration ran"
printf '  api-4 (next) up, out of rotation for %d ms: /readyz 503, %s\n' $((($(now_ns) - t_refused) / 1000000)) \
	"$(sed -E 's/.*"detail":"([^"]*)".*/\1/' <<<"$body")"
t_mig=$(now_ns)
"${compose[@]}" run --rm --no-deps -T migrate-next >"$work/migrate-next.log" 2>&1 || { cat "$work/migrate-next.log" >&2; fail "migrate-next failed"; }
t_migrated=$(now_ns)
[[ $(grep '^applied ' "$work/migrate-next.log") == "applied $next_migration" ]] ||
	{ cat "$work/migrate-next.log" >&2; fail "migrate-next did not apply exactly $next_migration"; }
wait_for 30 "api-4 in rotation" in_rotation api-4
t_joined=$(now_ns)
printf '  migrate up (next) applied %s in %d ms; api-4 in rotation %d ms later\n' "$next_migration" \
	$(((t_migrated - t_mig) / 1000000)) $(((t_joined - t_migrated) / 1000000))
for i in 1 2 3; do
	new=api-$((i + 3)) old=api-$i
	if [[ $new != api-4 ]]; then
		t0=$(now_ns)
		"${compose[@]}" up --detach --no-deps "$new" >/dev/null 2>&1 || fail "start $new"
		wait_for 30 "$new in rotation" in_rotation "$new"
		printf '  %s (next) in rotation %d ms after its start\n' "$new" $((($(now_ns) - t0) / 1000000))
	fi
	t0=$(now_ns)
	"${compose[@]}" stop --timeout 10 "$old" >/dev/null 2>&1 || fail "stop $old"
	printf '  %s (running version) stopped in %d ms\n' "$old" $((($(now_ns) - t0) / 1000000))
done
rollout_ms=$((($(now_ns) - t_roll) / 1000000))
sleep 2

step "stopping the load"
docker kill --signal TERM "$load" >/dev/null
code=$(docker wait "$load")
docker logs "$load" 2>&1 | sed 's/^/  /'
[[ $code == 0 ]] || fail "the load exited with $code"

# Figures from the load table: phase requests failed creates seconds inflight.
phase() { docker logs "$load" 2>&1 | awk -v p="$1" -v f="$2" '$1 == p && NF == 6 { print $f }'; }
for p in steady rolling kill rejoin rollout; do [[ -n $(phase "$p" 3) ]] || fail "no figures for phase $p"; done
acked=$(wc -l <"$work/ids")
missing=$({
	echo "CREATE TEMP TABLE acked (id bigint PRIMARY KEY);"
	echo "COPY acked FROM STDIN;"
	cat "$work/ids"
	echo '\.'
	echo "SELECT count(*) FROM acked LEFT JOIN tweets USING (id) WHERE tweets.id IS NULL;"
} | sql)

echo
echo "replicas-test figures"
printf '  migrations: 3 concurrent runs, each of %d applied once\n' "$want"
for p in steady rolling kill rejoin rollout; do
	printf '  %-8s %6s requests, %3s failed, %5s s\n' "$p" "$(phase "$p" 2)" "$(phase "$p" 3)" "$(phase "$p" 5)"
done
printf '  rollout of the next version (one new migration): %d ms, from the first new replica started to the last old one stopped\n' "$rollout_ms"
printf '  killed replica out of rotation after %d ms (limit %d ms)\n' "$detect_ms" "$KILL_DETECT_MAX_MS"
printf '  undelivered requests HAProxy sent to another replica: %s (retried on the same one: %s)\n' "$(lb_stat BACKEND wredis)" "$(lb_stat BACKEND wretr)"
printf '  acknowledged creates: %d, missing from the database: %s\n' "$acked" "$missing"
printf '  total run time: %d s\n' $((SECONDS - started))

[[ $(phase steady 3) == 0 ]] || fail "requests failed under steady load"
[[ $(phase rolling 3) == 0 ]] || fail "requests failed during the rolling restart"
[[ $(phase rejoin 3) == 0 ]] || fail "requests failed while the killed replica rejoined"
[[ $(phase rollout 3) == 0 ]] || fail "requests failed during the rollout of the next version"
(($(phase kill 3) <= $(phase kill 6))) || fail "more requests failed on the kill than were in flight"
((detect_ms <= KILL_DETECT_MAX_MS)) || fail "HAProxy took $detect_ms ms to drop the killed replica"
((acked > 0)) || fail "no create was acknowledged"
[[ $missing == 0 ]] || fail "$missing acknowledged creates are missing from the database"
echo "replicas: PASS"
