#!/usr/bin/env bash
# make bench-reload: how long from saving a Go file to the new API process
# serving, in the running dev stack, against the floor it can approach: the
# bare incremental `go build` plus start of the same edit in the container.
#
#   RUNS=10 make bench-reload        (API_PORT as for the stack)
#   make bench-debug                 (the same under make debug: the floor is
#                                     built with the debug build's GCFLAGS and
#                                     GO_LDFLAGS, and run bare)
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
POLL=${POLL:-0.02}           # poll interval: often enough to resolve ~10 ms, rarely enough not to slow the build
dev=(docker compose -p "${PROJECT:-twitter-api}" -f compose.dev.yml)

# The poll loop must not slow the build it is timing on a small machine, so
# it forks nothing: bash's clock, /dev/tcp for HTTP, and a read timeout on a
# silent pipe for sleeping.
if [[ -z "${EPOCHREALTIME:-}" ]]; then
	echo "bench-reload: needs bash 5 or later (for EPOCHREALTIME)" >&2
	exit 1
fi
now_ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
nap_fifo=$(mktemp -u)
mkfifo "$nap_fifo"
exec 4<>"$nap_fifo"
rm -f "$nap_fifo"
nap() { read -r -t "$1" -u 4 || true; }
# A server restarting mid-request must not kill the benchmark.
trap "" PIPE

# started_at of the serving process into $STARTED ("" when none answers).
poll_started_at() {
	STARTED=""
	{ exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 0
	local line="" reply=""
	{
		printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
		while IFS= read -r -t 2 line <&3 || [[ -n $line ]]; do reply+=$line; line=""; done
	} 2>/dev/null || true
	exec 3<&-
	if [[ $reply =~ \"started_at\":\"([^\"]+)\" ]]; then STARTED=${BASH_REMATCH[1]}; fi
}
started_at() { poll_started_at; echo "$STARTED"; }

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

# The floor runs in the api container on a copy of the tree air ignores;
# reload and floor runs alternate, so both see the same machine.
floor_dir=/src/tmp/bench-floor   # same file system as air's build, unwatched
"${dev[@]}" exec -T api bash -c "rm -rf $floor_dir && mkdir -p $floor_dir &&
	cp -r go.mod go.sum app docs $floor_dir/ && cd $floor_dir &&
	go build ${GCFLAGS:+-gcflags='$GCFLAGS'} ${GO_LDFLAGS:+-ldflags='$GO_LDFLAGS'} -o bin/api ./app/cmd/api"
cleanup_floor() { "${dev[@]}" exec -T api rm -rf "$floor_dir" >/dev/null 2>&1 || true; }
trap 'restore; cleanup_floor' EXIT

# One floor run: edit the copy, go build, start, poll until it serves.
floor_run() {
	"${dev[@]}" exec -T api bash -s "$floor_dir" "$FILE" "$1" "${GCFLAGS:-}" "${GO_LDFLAGS:-}" <<'INNER'
set -euo pipefail
cd "$1"
printf '\nvar floorEdit%s = %d\n' "$(date +%s%N)" "$3" >> "$2"
t0=$(date +%s%3N)
go build ${4:+"-gcflags=$4"} ${5:+"-ldflags=$5"} -o bin/api ./app/cmd/api
t1=$(date +%s%3N)
PORT=5999 bin/api serve >/dev/null 2>&1 &
until PORT=5999 bin/api healthcheck 2>/dev/null; do sleep 0.005; done
t2=$(date +%s%3N)
kill -INT $! && wait $! || true
echo "$((t1 - t0)) $((t2 - t0))"
INNER
}

echo "bench-reload: $RUNS edits of $FILE; reload = save -> new process serving ($URL),"
echo "  floor = the same edit's bare incremental go build + start in the container"
reloads=() builds=() floors=()
for i in $(seq 1 "$RUNS"); do
	poll_started_at
	before=$STARTED
	t0=${EPOCHREALTIME/[.,]/}
	# A code edit, not a comment: a comment leaves the compiled package as it
	# was, and the go command then skips the link, which is half a real
	# edit's build. The name is unique, so nothing comes from the cache.
	printf '\nvar benchReloadEdit%s = %d\n' "${EPOCHREALTIME/[.,]/}" "$i" >> "$FILE"
	deadline=$((t0 / 1000 + 30000))
	while :; do
		poll_started_at
		[[ -n "$STARTED" && "$STARTED" != "$before" ]] && break
		((${EPOCHREALTIME/[.,]/} / 1000 < deadline)) || { echo "no reload within 30 s" >&2; exit 1; }
		nap "$POLL"
	done
	t1=${EPOCHREALTIME/[.,]/}
	reloads+=($(((t1 - t0) / 1000)))
	nap "$PAUSE"
	read -r b f < <(floor_run "$i")
	builds+=("$b") floors+=("$f")
	printf '  run %2d: reload %5d ms   floor %5d ms (build %d ms)\n' "$i" "${reloads[-1]}" "$f" "$b"
	nap "$PAUSE"
done

echo
stats "reload (save -> serving)" "${reloads[@]}"
stats "floor: go build" "${builds[@]}"
stats "floor: go build + start" "${floors[@]}"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
awk -v r="$(median "${reloads[@]}")" -v f="$(median "${floors[@]}")" \
	'BEGIN { printf "median reload / median floor = %.2f\n", r / f }'
