#!/usr/bin/env bash
# make test-reload: on the running dev stack, a client sends GET /hello back
# to back (vegeta, one worker, keep-alive) through the dev proxy while
#   1. RELOADS (10) saves reload the API: each prints its reload line;
#   2. a save that does not compile: the old code keeps answering, every
#      response carries X-Dev-Build with the compiler error, the log has
#      the one "build FAILED" line;
#   3. the fix: the new code answers, X-Dev-Build is gone;
# and the client sees 0 failures: no refused or reset connection, no
# timeout, nothing but 200. The edited file is restored however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

RELOADS=${RELOADS:-10}
project=$PROJECT
base=http://127.0.0.1:${API_PORT:-5000}
dev=(docker compose -p "$project" -f compose.dev.yml)
file=app/httpapi/health.go
client=$project-reload-client
results=tmp/reload-check.bin
fail() { echo "test-reload: FAIL: $*" >&2; exit 1; }

backup=$(mktemp)
cp "$file" "$backup"
cleanup() {
	cmp -s "$backup" "$file" || cp "$backup" "$file"
	rm -f "$backup"
	docker rm -f "$client" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

source proving/vegeta.sh
vegeta --rm -- -version >/dev/null  # built now, not while the client should be sending

started_at() { curl -fsS --max-time 30 "$base/healthz" | grep -o '"started_at":"[^"]*"' || true; }
hello() { curl -sS --max-time 30 -D "$1" "$base/hello"; }
since=$(date -u +%Y-%m-%dT%H:%M:%SZ)

mkdir -p tmp
# TARGET=http://api:5000 sends the client straight to the API: what it
# sees without the proxy.
echo "GET ${TARGET:-http://proxy:5000}/hello" >tmp/reload-targets.txt
rm -f "$results"
vegeta -d --init --name "$client" -- attack -targets tmp/reload-targets.txt \
	-rate 0 -workers 1 -max-workers 1 -duration 0 -timeout 30s -output "$results" >/dev/null
sleep 1

# 1. Reloads.
for i in $(seq "$RELOADS"); do
	before=$(started_at)
	printf '\nvar reloadCheck%s = %d\n' "${EPOCHREALTIME/[.,]/}" "$i" >>"$file"
	for _ in $(seq 600); do [[ "$(started_at)" != "$before" ]] && break; sleep 0.1; done
	[[ "$(started_at)" != "$before" ]] || fail "reload $i: the API did not restart within 60 s"
done
echo "test-reload: $RELOADS reloads done"

# 2. A save that does not compile.
headers=$(mktemp)
sed -i 's/c.SendString("Goodbye World!")/c.SendString(undefinedGreeting)/' "$file"
for _ in $(seq 600); do
	hello "$headers" >/dev/null
	grep -qi '^x-dev-build: failed' "$headers" && break
	sleep 0.1
done
grep -i '^x-dev-build:' "$headers" | grep -q 'undefined: undefinedGreeting' || fail "no X-Dev-Build header naming the error within 60 s"
body=$(hello "$headers")
[[ "$body" == "Goodbye World!" ]] || fail "the last good code does not answer /hello after the failed build: $body"
echo "test-reload: while it does not compile: /hello answers '$body' with $(grep -i '^x-dev-build:' "$headers" | tr -d '\r')"
# air prints the build's output once it has ended, just after the header.
for _ in $(seq 100); do
	"${dev[@]}" logs --no-log-prefix --since "$since" api | grep "reload: $file: build FAILED in .*undefined: undefinedGreeting" && break
	sleep 0.1
done | grep -q . || fail "the log has no 'build FAILED' line naming the error"

# 3. The fix.
sed -i 's/c.SendString(undefinedGreeting)/c.SendString("Goodbye World, fixed!")/' "$file"
for _ in $(seq 600); do
	[[ "$(hello "$headers")" == "Goodbye World, fixed!" ]] && break
	sleep 0.1
done
[[ "$(hello "$headers")" == "Goodbye World, fixed!" ]] || fail "the fix was not served within 60 s"
! grep -qi '^x-dev-build:' "$headers" || fail "X-Dev-Build is still there after the fix"
echo "test-reload: the fix is served, X-Dev-Build gone"
rm -f "$headers"

docker kill --signal INT "$client" >/dev/null
docker wait "$client" >/dev/null || true
report=$(vegeta --rm -- report -type json "$results")
lines=$("${dev[@]}" logs --no-log-prefix --since "$since" api | grep -c "^reload: $file: build .* after the save" || true)
echo "test-reload: the client's requests: $(grep -o '"requests":[0-9]*' <<<"$report"), status codes $(grep -o '"status_codes":{[^}]*}' <<<"$report"), errors $(grep -o '"errors":\[[^]]*\]' <<<"$report"); $lines reload lines in the log"
grep -q '"status_codes":{"200":[0-9]*}' <<<"$report" && grep -q '"errors":\[\]' <<<"$report" ||
	fail "the client saw failures across the reloads"
((lines >= RELOADS + 1)) || fail "expected a reload line for each of the $((RELOADS + 1)) good builds, found $lines"
echo "test-reload: ok: 0 failures across $RELOADS reloads, a failed build and its fix"
