#!/usr/bin/env bash
# make test-observe: on the running dev stack (make up starts it, Jaeger
# included), devtools/observecheck follows a request with a known
# traceparent from its HTTP span to its SQL span in Jaeger and parses
# /metrics on the admin port; then the API's log must carry that trace id.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=(docker compose -p "${PROJECT:-twitter-api}" -f compose.dev.yml)
args=(-api "http://127.0.0.1:${API_PORT:-5000}" -admin "http://127.0.0.1:${ADMIN_PORT:-9090}"
	-jaeger "http://127.0.0.1:${JAEGER_UI_PORT:-16686}")
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if command -v go >/dev/null 2>&1 && go -C devtools list -m >/dev/null 2>&1; then
	go -C devtools run ./observecheck "${args[@]}" | tee "$out"
else
	# No Go on the host: the dev image, on the host's network so it reaches
	# the same published ports.
	uid=${HOST_UID:-$(id -u)}
	docker run --rm --network host -u "$uid:${HOST_GID:-$(id -g)}" -v "$PWD:/src" -w /src \
		-v "twitter-api-gomod-$uid:/go/pkg/mod" -v "twitter-api-gocache-$uid:/cache" \
		"${DEV_IMAGE:-twitter-api-dev}" go -C devtools run ./observecheck "${args[@]}" | tee "$out"
fi
trace=$(sed -n 's/^trace \([0-9a-f]\{32\}\): .*/\1/p' "$out")
[ -n "$trace" ] || { echo "test-observe: FAIL: observecheck named no trace" >&2; exit 1; }
# The access log is written by a goroutine: give it a moment, boundedly.
for _ in $(seq 1 20); do
	if "${dev[@]}" logs --no-color api 2>/dev/null | grep -q "\"trace_id\":\"$trace\""; then
		echo "log: the request's access log line carries trace_id $trace"
		echo "test-observe: PASS"
		exit 0
	fi
	sleep 0.25
done
echo "test-observe: FAIL: no log line of the api carries trace_id $trace" >&2
exit 1
