#!/usr/bin/env bash
# air's entrypoint wrapper (.air.toml, .air.debug.toml): becomes the given
# command (exec: same process, same signals), while a background watcher
# waits for it to accept connections on PORT and prints one line:
#
#   reload: app/httpapi/tweets.go: build 1.9 s, ready 0.2 s, 2.2 s after the save
#
# what triggered the build, the build (devtools/air-build.sh notes it in
# tmp/.reload), the start until the port accepts, and save -> serving.
set -u
ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
t0=$(ms)
port=${PORT:-5000}

(
	# Sleep without forking (read on a silent pipe), so the watcher takes
	# no CPU from the start it times.
	fifo=$(mktemp -u) && mkfifo "$fifo" && exec 4<>"$fifo" && rm -f "$fifo"
	until { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null; do
		# Gone before serving (it failed to start), or not serving in 5 min.
		kill -0 $$ 2>/dev/null && (($(ms) < t0 + 300000)) || exit 0
		read -r -t 0.01 -u 4 || true
	done
	exec 3<&-
	t2=$(ms)
	[[ -f tmp/.reload ]] || exit 0 # after a failed build: its line is out
	read -r trigger saved build built <tmp/.reload || exit 0
	rm -f tmp/.reload
	s() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }
	line="reload: $trigger: build $(s "$build"), ready $(s $((t2 - t0)))"
	((saved > 0)) && line+=", $(s $((t2 - saved))) after the save"
	echo "$line"
) &

exec "$@"
