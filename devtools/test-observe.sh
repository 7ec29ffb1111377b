#!/usr/bin/env bash
# make test-observe: on the running dev stack (make up starts it), a request
# with a traceparent of ours reaches Jaeger with its server span and its SQL
# span, and the API's log line carries its trace id. What the spans and the
# metrics hold is proven in process by app/cmd/api/observe_test.go; this is
# only the end-to-end proof that the exporter, the network and Jaeger agree.
set -euo pipefail
cd "$(dirname "$0")/.."

trace=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
user=observe_${trace:0:12}
curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "traceparent: 00-$trace-00f067aa0ba902b7-01" \
	-d "{\"username\":\"$user\",\"email\":\"$user@example.com\"}" "http://127.0.0.1:${API_PORT:-5000}/users"
# The API exports in batches: wait for both spans, boundedly.
for _ in $(seq 1 60); do
	got=$(curl -fsS "http://127.0.0.1:${JAEGER_UI_PORT:-16686}/api/traces/$trace" 2>/dev/null || true)
	if grep -Eq '"operationName": ?"POST /users"' <<<"$got" && grep -q 'INSERT INTO users' <<<"$got"; then
		if grep -q "$user" <<<"$got"; then
			echo "test-observe: FAIL: a span of trace $trace carries the request's value $user" >&2
			exit 1
		fi
		echo "jaeger: trace $trace has the server span POST /users and its INSERT INTO users"
		logs=$(docker compose -p "$PROJECT" -f compose.dev.yml logs --no-color api)
		grep -q "\"trace_id\":\"$trace\"" <<<"$logs" || { echo "test-observe: FAIL: no log line carries trace_id $trace" >&2; exit 1; }
		echo "test-observe: PASS"
		exit 0
	fi
	sleep 0.5
done
echo "test-observe: FAIL: trace $trace not complete in Jaeger after 30 s: ${got:0:300}" >&2
exit 1
