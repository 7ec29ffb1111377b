#!/usr/bin/env bash
# make bench-reload: how long from saving a Go file to the new API process
# serving, in the running dev stack, against two floors measured in the same
# container, alternating with the reloads:
#   floor           the same edit's bare incremental build (the very script
#                   air runs) plus start of the API;
#   platform floor  the same, for a one-file Fiber program: the least any
#                   Fiber service built by the go command reloads in here.
#
#   RUNS=10 make bench-reload        (API_PORT as for the stack)
#   make bench-debug                 (the same under make debug:
#                                     BUILD=devtools/build-debug.sh; the
#                                     floors run bare, without Delve)
#
# Reload is timed from the host writing the edit to the new process's own
# "serving" log line (written once its socket listens; containers share the
# host's clock). A slow poll of /healthz only notices that started_at
# changed: polling every few ms through the published port would take CPU
# from the very build being timed. The floors are timed in the container on
# a copy of the tree outside air's watch, so they never meet.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-10}
PORT=${API_PORT:-5000}
URL="http://127.0.0.1:$PORT/healthz"
FILE=app/httpapi/health.go   # an edit here rebuilds the package and relinks
PAUSE=${PAUSE:-1.5}          # settle time between edits, seconds
POLL=${POLL:-0.25}           # how often to look for the new process; the time itself comes from its log
dev=(docker compose -p "$PROJECT" -f compose.dev.yml)

# The poll loop must not slow the build it is timing on a small machine, so
# it forks nothing: bash's clock, /dev/tcp for HTTP, and a read timeout on a
# silent pipe for sleeping.
if [[ -z "${EPOCHREALTIME:-}" ]]; then
	echo "bench-reload: needs bash 5 or later (for EPOCHREALTIME)" >&2
	exit 1
fi
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

# The time (ms since the epoch) of the first "serving" line the API logged
# at or after $1 (ms), in either LOG_FORMAT; fails when there is none (for
# example with LOG_LEVEL=warn).
serving_ms_after() {
	local since line ts
	since=$(date -u -d "@$(($1 / 1000 - 1))" +%Y-%m-%dT%H:%M:%SZ)
	while IFS= read -r line; do
		if [[ $line =~ \"time\":\"([^\"]+)\".*\"msg\":\"serving\" || $line =~ time=([^ ]+)\ .*msg=serving ]]; then
			ts=$(date -d "${BASH_REMATCH[1]}" +%s%3N)
			if ((ts >= $1)); then
				echo "$ts"
				return 0
			fi
		fi
	done < <("${dev[@]}" logs --no-log-prefix --since "$since" api 2>/dev/null)
	return 1
}

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

# The floors run in the api container on a copy of the tree air ignores;
# reload and floor runs alternate, so all see the same machine.
BUILD=${BUILD:-devtools/build-dev.sh}
floor_dir=/src/tmp/bench-floor   # same file system as air's build, unwatched
"${dev[@]}" exec -T api bash -s "$floor_dir" "$BUILD" <<'SETUP'
set -euo pipefail
rm -rf "$1" && mkdir -p "$1/devtools" "$1/platform"
cp -r go.mod go.sum app docs "$1/" && cp "$2" "$1/$2"
cat >"$1/platform/main.go" <<'GO'
// A one-file Fiber service: make bench-reload's platform floor.
package main

import (
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	if err := app.Listen(":" + os.Getenv("PORT")); err != nil {
		panic(err)
	}
}
GO
cd "$1" && sh "$2" bin/api ./app/cmd/api && sh "$2" bin/platform ./platform
SETUP
cleanup_floor() { "${dev[@]}" exec -T api rm -rf "$floor_dir" >/dev/null 2>&1 || true; }
trap 'restore; cleanup_floor' EXIT
trap 'exit 130' INT TERM   # so the EXIT trap restores the file

# One floor run: edit, build with $BUILD, start, and wait until the port
# accepts connections: the moment the API logs "serving", which is what a
# reload is timed to. The wait forks nothing, so it does not slow the start.
# Prints "build_ms serving_ms".
floor_run() { # file to edit, package, binary, port, run number
	"${dev[@]}" exec -T api bash -s "$floor_dir" "$BUILD" "$@" <<'INNER'
set -euo pipefail
cd "$1"
ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
fifo=$(mktemp -u) && mkfifo "$fifo" && exec 4<>"$fifo" && rm -f "$fifo"
printf '\nvar floorEdit%s = %d\n' "${EPOCHREALTIME/[.,]/}" "$7" >> "$3"
t0=$(ms)
sh "$2" "$5" "$4"
t1=$(ms)
# A port of its own for the admin listener: the reloaded API holds the
# configured one.
PORT=$6 ADMIN_ADDR=127.0.0.1:0 "$5" serve >/dev/null 2>&1 &
until { exec 3<>"/dev/tcp/127.0.0.1/$6"; } 2>/dev/null; do
	(($(ms) < t1 + 30000)) || { echo "$5 not serving within 30 s" >&2; exit 1; }
	read -r -t 0.005 -u 4 || true
done
t2=$(ms)
exec 3<&-
# SIGTERM: a background job of a script starts with SIGINT ignored.
kill $! && wait $! || true
echo "$((t1 - t0)) $((t2 - t0))"
INNER
}

echo "bench-reload: $RUNS edits of $FILE; reload = save -> new process serving ($URL),"
echo "  floor = the same edit's bare incremental build ($BUILD) + start in the container,"
echo "  platform floor = the same for a one-file Fiber program"
reloads=() builds=() floors=() pbuilds=() pfloors=()
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
	if served=$(serving_ms_after $((t0 / 1000))); then
		reloads+=($((served - t0 / 1000)))
	else
		echo "bench-reload: no \"serving\" log line (LOG_LEVEL above info?); timing by the poll, to within ${POLL} s" >&2
		reloads+=($(((t1 - t0) / 1000)))
	fi
	nap "$PAUSE"
	read -r b f < <(floor_run "$FILE" ./app/cmd/api bin/api 5999 "$i")
	builds+=("$b") floors+=("$f")
	nap "$PAUSE"
	read -r pb pf < <(floor_run platform/main.go ./platform bin/platform 5998 "$i")
	pbuilds+=("$pb") pfloors+=("$pf")
	printf '  run %2d: reload %5d ms   floor %5d ms (build %d ms)   platform floor %5d ms (build %d ms)\n' \
		"$i" "${reloads[-1]}" "$f" "$b" "$pf" "$pb"
	nap "$PAUSE"
done

echo
stats "reload (save -> serving)" "${reloads[@]}"
stats "floor: build" "${builds[@]}"
stats "floor: build + start" "${floors[@]}"
stats "platform floor: build" "${pbuilds[@]}"
stats "platform floor: build + start" "${pfloors[@]}"
median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
awk -v r="$(median "${reloads[@]}")" -v f="$(median "${floors[@]}")" -v p="$(median "${pfloors[@]}")" \
	'BEGIN { printf "median reload / median floor = %.2f; / median platform floor = %.2f\n", r / f, r / p }'
