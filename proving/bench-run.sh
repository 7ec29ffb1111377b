#!/usr/bin/env bash
# Inside the bench container (see proving/compose.bench.yml): build the API, the
# floor server and the load generator, start both servers on 127.0.0.1, load
# them in turn with proving/load (vegeta), and stop them however the run ends.
set -euo pipefail

mkdir -p /tmp/bench
go build -o /tmp/bench/api ./app/cmd/api
go -C proving build -o /tmp/bench/floor ./floor
go -C proving build -o /tmp/bench/load ./load
# compose run does not always wait for the database's healthcheck.
for i in $(seq 60); do
	/tmp/bench/api migrate up >/dev/null 2>/tmp/bench/migrate.log && break
	((i < 60)) || { cat /tmp/bench/migrate.log >&2; exit 1; }
	sleep 0.5
done

pids=()
stop() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop EXIT

# The API with its shipped defaults, access log included (to a file);
# API_ENV="DB_MAX_OPEN_CONNS=4 ..." overrides.
# shellcheck disable=SC2086
# The load is one client's: rate limits off, as for the floor.
# Its admin port (pprof) on 127.0.0.1:6060: PROFILE=1 profiles each API round.
env PORT=5300 ADMIN_ADDR=127.0.0.1:6060 RATE_LIMIT_SIGNUPS=0 RATE_LIMIT_ANONYMOUS_WRITES=0 RATE_LIMIT_KEYED_WRITES=0 RATE_LIMIT_ACCOUNT=0 ${API_ENV:-} /tmp/bench/api serve >/tmp/bench/api.log 2>&1 &
pids+=($!)
# The floor gets the API's pool size, unless FLOOR_CONNS says otherwise.
# FLOOR_LIST=plain: the floor's list in plain id order without authors.
floor_args=(-addr 127.0.0.1:5301 -list "${FLOOR_LIST:-same}")
if [ -n "${FLOOR_CONNS:-}" ]; then floor_args+=(-conns "$FLOOR_CONNS"); fi
/tmp/bench/floor "${floor_args[@]}" >/tmp/bench/floor.log 2>&1 &
pids+=($!)

for url in http://127.0.0.1:5300/readyz http://127.0.0.1:5301/tweets/1; do
	for _ in $(seq 100); do
		code=$(curl -s -o /dev/null -w '%{http_code}' "$url" || true)
		case $code in 200|404) break ;; esac
		sleep 0.1
	done
done

profile=()
if [ "${PROFILE:-}" = 1 ]; then
	mkdir -p reports/pprof
	profile=(-pprof http://127.0.0.1:6060 -pprof-dir reports/pprof)
fi
/tmp/bench/load -url http://127.0.0.1:5300 -floor http://127.0.0.1:5301 \
	-api-pid "${pids[0]}" -floor-pid "${pids[1]}" \
	-duration "$DURATION" -rounds "$ROUNDS" -concurrency "$CONCURRENCY" -only "${ONLY:-}" "${profile[@]}" || {
	status=$?
	echo "--- api log (tail)"; tail -n 20 /tmp/bench/api.log
	echo "--- floor log (tail)"; tail -n 20 /tmp/bench/floor.log
	exit "$status"
}
if [ "${PROFILE:-}" = 1 ]; then
	for f in reports/pprof/*.pprof; do
		go tool pprof -top -nodecount=30 /tmp/bench/api "$f" >"${f%.pprof}.txt" 2>/dev/null || true
	done
	echo "CPU profiles of the API's rounds: reports/pprof/*.pprof, top functions in *.txt"
fi
