#!/usr/bin/env bash
# Inside the bench container: see proving/bench-observe.sh.
set -euo pipefail

b=/tmp/bench
mkdir -p $b
size() { # label, binary: raw and gzipped bytes, as the release build makes it
	printf '  %-5s %10d bytes  %10d gzipped\n' "$1" "$(stat -c %s "$2")" "$(gzip -9 -c "$2" | wc -c)"
}
export CGO_ENABLED=0
rel=(-trimpath -ldflags=-s\ -w)
(cd tmp/bench-base && go build "${rel[@]}" -o $b/api-base ./app/cmd/api)
go build "${rel[@]}" -o $b/api ./app/cmd/api
go -C proving build -o $b/load ./load
go -C proving build -o $b/otlpsink ./otlpsink
echo "release binary (-trimpath -s -w, no cgo):"
size base $b/api-base
size this $b/api
for i in $(seq 60); do
	$b/api migrate up >/dev/null 2>$b/migrate.log && break
	((i < 60)) || { cat $b/migrate.log >&2; exit 1; }
	sleep 0.5
done

pids=()
stop() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT
$b/otlpsink -addr 127.0.0.1:4318 >$b/sink.log 2>&1 &
pids+=($!)
PORT=5300 ADMIN_ADDR=off $b/api-base serve >$b/base.log 2>&1 &
pids+=($!)
PORT=5301 ADMIN_ADDR=127.0.0.1:9091 $b/api serve >$b/off.log 2>&1 &
pids+=($!)
PORT=5302 ADMIN_ADDR=127.0.0.1:9092 OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \
	$b/api serve >$b/on.log 2>&1 &
pids+=($!)
for port in 5300 5301 5302; do
	for _ in $(seq 100); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz" || true)" = 200 ] && break
		sleep 0.1
	done
done

lg=(-duration "$DURATION" -rounds "$ROUNDS" -concurrency "$CONCURRENCY" -only "${ONLY:-}")
echo
echo "=== tracing off: base (\"api\" below) vs this tree (\"floor\" below); ratio = base / this"
$b/load -url http://127.0.0.1:5300 -floor http://127.0.0.1:5301 -api-pid "${pids[1]}" -floor-pid "${pids[2]}" "${lg[@]}"
echo
echo "=== tracing on, 100 % sampled: on (\"api\") vs off (\"floor\"); ratio = on / off"
$b/load -url http://127.0.0.1:5302 -floor http://127.0.0.1:5301 -api-pid "${pids[3]}" -floor-pid "${pids[2]}" "${lg[@]}"
echo
echo "otlpsink: $(curl -s http://127.0.0.1:4318/stats)"
grep -c '"trace_id"' $b/on.log | sed 's/^/access log lines with a trace id (on): /'
