#!/usr/bin/env bash
# make smoke: the release image, as an operator would run it. A private
# network and database, migrations run from the image, then real calls on a
# loopback port: health, a user, a tweet, and a database outage survived.
# Everything is removed at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

run_id=smoke-$$-$RANDOM
net=$PROJECT-$run_id db=$PROJECT-$run_id-db api=$PROJECT-$run_id-api
# A throwaway password, so none is written anywhere.
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
dsn="postgres://smoke:$password@$db:5432/smoke?sslmode=disable"

bin_dir=$(mktemp -d)
cleanup() {
	rm -rf "$bin_dir"
	docker rm -f "$api" "$db" "$run_id-bin" >/dev/null 2>&1 || true
	docker network rm "$net" >/dev/null 2>&1 || true
}
trap cleanup EXIT
fail() { echo "smoke: FAIL: $*" >&2; docker logs --tail 30 "$api" 2>&1 | sed 's/^/  api| /' >&2 || true; exit 1; }
step() { echo "smoke: $*"; }

wait_for() { # seconds, description, command...
	local until=$((SECONDS + $1)) what=$2; shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < until)) || fail "timed out waiting for $what"
		sleep 0.2
	done
}

user=$(docker image inspect -f '{{.Config.User}}' "$IMAGE")
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
# What a pull transfers: the layers gzipped, as docker save | gzip gives them.
pulled=$(docker save "$IMAGE" | gzip | wc -c)
step "image $IMAGE: user $user, $size bytes on disk, $pulled bytes gzipped"
[[ "$user" != "" && "$user" != 0* && "$user" != root* ]] || fail "the image runs as root"
# The budget is 15 MB: tracing and metrics took it from 11.5 MB to about 14.
((pulled <= 15 * 1000 * 1000)) || fail "the image is over 15 MB gzipped"

# The binary must carry readable build info (scanners need it; a packed
# binary has none). go version -m runs in the build image, not on the host.
docker create --name "$run_id-bin" "$IMAGE" >/dev/null
docker cp "$run_id-bin:/api" "$bin_dir/api" >/dev/null
docker rm "$run_id-bin" >/dev/null
buildinfo=$(docker run --rm --network none -v "$bin_dir:/bin-under-test:ro" golang:1.27-trixie \
	go version -m /bin-under-test/api 2>&1) || fail "go version -m cannot read the binary: $buildinfo"
grep -q $'^\tpath\tgithub.com/twitter-api/twitter-api/app/cmd/api$' <<<"$buildinfo" \
	|| fail "no build info in the binary: $buildinfo"
step "build info: $(head -n 1 <<<"$buildinfo" | sed 's/^[^:]*: //'), $(grep -c $'^\tdep\t' <<<"$buildinfo") modules"

docker network create "$net" >/dev/null
docker run -d --name "$db" --network "$net" \
	-e POSTGRES_USER=smoke -e POSTGRES_PASSWORD="$password" -e POSTGRES_DB=smoke postgres:17 >/dev/null
# Over TCP: while initdb runs, the entrypoint's temporary server answers on
# the socket only, and the API connects over TCP.
wait_for 60 "PostgreSQL" docker exec "$db" pg_isready -h 127.0.0.1 -U smoke -d smoke

step "migrations from the image"
docker run --rm --network "$net" -e DATABASE_URL="$dsn" "$IMAGE" migrate up

docker run -d --name "$api" --network "$net" -e DATABASE_URL="$dsn" -p 127.0.0.1::5000 "$IMAGE" >/dev/null
port=$(docker port "$api" 5000/tcp | head -n 1 | sed 's/.*://')
base=http://127.0.0.1:$port
wait_for 30 "/readyz" curl -fsS "$base/readyz"
step "serving on $base, ready"

json() { # method path [body] [api key] -> prints "status body"
	local args=(-sS -o /tmp/$run_id.body -w '%{http_code}' -X "$1" "$base$2")
	[[ -n "${3:-}" ]] && args+=(-H 'Content-Type: application/json' -d "$3")
	[[ -n "${4:-}" ]] && args+=(-H "X-API-Key: $4")
	local code
	code=$(curl "${args[@]}")
	echo "$code $(cat /tmp/$run_id.body)"
	rm -f /tmp/$run_id.body
}
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",}]*\).*/\1/p" <<<"$2" | head -n 1; }

out=$(json GET /healthz); [[ $out == 200* ]] || fail "healthz: $out"
out=$(json GET /hello); [[ $out == "200 Goodbye World!" ]] || fail "hello: $out"

out=$(json POST /users "{\"username\":\"smoke_$RANDOM\",\"email\":\"smoke$RANDOM@example.com\"}")
[[ $out == 201* ]] || fail "create user: $out"
key=$(field api_key "$out")

out=$(json POST /tweets '{"text":"  hello from the release image  "}' "$key")
[[ $out == 201* ]] || fail "create tweet: $out"
id=$(field id "$out")
out=$(json GET "/tweets/$id")
[[ $out == 200* && $out == *'"text":"hello from the release image"'* && $out == *'"username":"smoke_'* ]] \
	|| fail "read tweet: $out"
step "created and read back tweet $id with its author"

step "database outage: stop PostgreSQL"
docker stop -t 5 "$db" >/dev/null
headers=$(curl -sS -D - -o /dev/null "$base/tweets/$id")
{ grep -q ' 503' <<<"$headers" && grep -qi '^retry-after:' <<<"$headers"; } \
	|| fail "want 503 with Retry-After while the database is down, got: $headers"
out=$(json GET /readyz); [[ $out == 503* ]] || fail "readyz during outage: $out"
step "503 with Retry-After while it is down; start it again"
docker start "$db" >/dev/null
wait_for 60 "recovery after the outage" curl -fsS "$base/tweets/$id"
out=$(json GET "/tweets/$id"); [[ $out == 200* ]] || fail "after recovery: $out"
step "recovered without a restart"

wait_for 40 "the image's HEALTHCHECK to report healthy" \
	bash -c "[[ \$(docker inspect -f '{{.State.Health.Status}}' $api) == healthy ]]"
step "HEALTHCHECK healthy"
# The termination contract: SIGTERM makes /readyz 503 at once while the API
# keeps serving for SHUTDOWN_DELAY (2 s); it then drains (SHUTDOWN_TIMEOUT,
# 6 s) and exits 0, inside docker stop's 10 s grace.
stop_start=$SECONDS
docker stop -t 10 "$api" >/dev/null &
stopper=$!
wait_for 2 "/readyz to answer 503 after SIGTERM" bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' $base/readyz) == 503 ]]"
out=$(json GET "/tweets/$id"); [[ $out == 200* ]] || fail "not serving during SHUTDOWN_DELAY: $out"
step "SIGTERM: unready at once, still serving"
wait "$stopper"
code=$(docker inspect -f '{{.State.ExitCode}}' "$api")
[[ $code == 0 ]] || fail "the API exited with $code on SIGTERM"
step "stopped cleanly on SIGTERM after $((SECONDS - stop_start)) s; PASS"
