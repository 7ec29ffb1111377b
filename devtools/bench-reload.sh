#!/usr/bin/env bash
# make bench-reload: how long from saving a Go file to the new API process
# serving, in the running dev stack, against the floor it can approach: the
# bare incremental `go build` plus start of the same edit in the container.
#
#   RUNS=10 make bench-reload        (API_PORT as for the stack)
#
# Reload is timed on the host: write the edit, then poll /healthz until its
# started_at changes (the new process is serving). The floor is timed in the
# container on a copy of the tree outside air's watch, so the two never meet.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
PORT=${API_PORT:-5000}
URL="http://127.0.0.1:$PORT/healthz"
FILE=app/httpapi/health.go   # an edit here rebuilds the package and relinks
PAUSE=${PAUSE:-1.5}          # settle time between edits, seconds
dev=(docker compose -f compose.dev.yml)

now_ms() { date +%s%3N; }
[[ $(now_ms) =~ ^[0-9]+$ ]] || now_ms() { perl -MTime::HiRes=time -e 'printf "%d\n", time*1000'; }

started_at() { curl -fsS -m 1 "$URL" 2>/dev/null | sed -n 's/.*"started_at":"\([^"]*\)".*/\1/p' || true; }

stats() { # label, values in ms...
	local label=$1; shift
	sort -n <<<"$(printf '%s\n' "$@")" | awk -v l="$label" '
		{ v[NR] = $1; s += $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%-30s n=%-3d min %5d ms   median %7.1f ms   max %5d ms\n", l, NR, v[1], m, v[NR] }'
}

if [[ -z "$(started_at)" ]]; then
	echo "bench-reload: the API is not answering on $URL; start it with make up" >&2
	exit 1
fi

backup=$(mktemp)
cp "$FILE" "$backup"
restore() { cp "$backup" "$FILE"; rm -f "$backup"; }
trap restore EXIT

echo "bench-reload: $RUNS edits of $FILE, save -> new process serving ($URL)"
reloads=()
for i in $(seq 1 "$RUNS"); do
	before=$(started_at)
	t0=$(now_ms)
	printf '\n// bench-reload edit %d at %s\n' "$i" "$t0" >> "$FILE"
	deadline=$((t0 + 30000))
	while :; do
		s=$(started_at)
		[[ -n "$s" && "$s" != "$before" ]] && break
		(( $(now_ms) < deadline )) || { echo "no reload within 30 s" >&2; exit 1; }
		sleep 0.005
	done
	t1=$(now_ms)
	reloads+=($((t1 - t0)))
	printf '  reload %2d: %5d ms\n' "$i" $((t1 - t0))
	sleep "$PAUSE"
done

echo "bench-reload: the floor, measured inside the api container"
floor=$("${dev[@]}" exec -T api bash -s "$RUNS" "$FILE" <<'INNER'
set -euo pipefail
runs=$1 file=$2 work=/tmp/bench-floor
rm -rf "$work"; mkdir -p "$work"
cp -r /src/go.mod /src/go.sum /src/app /src/docs "$work"/
cd "$work"
go build -o bin/api ./app/cmd/api   # warm: the measured builds are incremental
for i in $(seq 1 "$runs"); do
	printf '\n// floor edit %d\n' "$i" >> "$file"
	t0=$(date +%s%3N)
	go build -o bin/api ./app/cmd/api
	t1=$(date +%s%3N)
	PORT=5999 DATABASE_URL="$DATABASE_URL" bin/api serve >/dev/null 2>&1 &
	until PORT=5999 bin/api healthcheck 2>/dev/null; do sleep 0.005; done
	t2=$(date +%s%3N)
	kill -INT $! && wait $! || true
	echo "$((t1 - t0)) $((t2 - t0))"
done
rm -rf "$work"
INNER
)
builds=() floors=()
while read -r b f; do builds+=("$b"); floors+=("$f"); done <<<"$floor"

echo
stats "reload (save -> serving)" "${reloads[@]}"
stats "floor: go build" "${builds[@]}"
stats "floor: go build + start" "${floors[@]}"
awk -v r="$(printf '%s\n' "${reloads[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}')" \
    -v f="$(printf '%s\n' "${floors[@]}" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}')" \
    'BEGIN { printf "median reload / median floor = %.2f\n", r / f }'
