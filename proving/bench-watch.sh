#!/usr/bin/env bash
# make bench-watch: save -> result under make watch, warm, for an edit in
# app/twitter and one in app/httpapi (RUNS each, alternating), then
# make test's total in the same run. A save is timed from the write to the
# "watch:" line that follows it. The edited files are restored.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
edits=(app/twitter/twitter.go app/httpapi/health.go)
log=$(mktemp)
for f in "${edits[@]}"; do cp "$f" "$f.bench-watch"; done
watch_pid=
# Stopping the watch's container ends the watch (as Ctrl-C would); test.sh
# then tears down the rest.
stop_watch() {
	[[ -n "$watch_pid" ]] || return 0
	docker ps -q --filter "label=com.docker.compose.project=$PROJECT-test" \
		--filter label=com.docker.compose.oneoff=True | xargs -r docker stop -t 5 >/dev/null 2>&1 || true
	wait "$watch_pid" 2>/dev/null || true
	watch_pid=
}
cleanup() {
	for f in "${edits[@]}"; do [[ -f "$f.bench-watch" ]] && mv "$f.bench-watch" "$f"; done
	stop_watch
	rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
# Waits for the next "watch:" line after line $1 of the log; prints it.
next_result() {
	local deadline=$(($(ms) + 180000))
	while (($(ms) < deadline)); do
		if line=$(tail -n +"$(($1 + 1))" "$log" | grep -m1 '^watch: '); then echo "$line"; return 0; fi
		sleep 0.05
	done
	echo "bench-watch: no result within 180 s; the watch log:" >&2
	tail -n 40 "$log" >&2
	exit 1
}
edit() { printf '\nvar benchWatchEdit%s = %d\n' "${EPOCHREALTIME/[.,]/}" "$2" >>"$1"; }

bash devtools/test.sh bash devtools/watch-run.sh >"$log" 2>&1 &
watch_pid=$!
# (After the test image is built, if it must be.)
until grep -q '^Watching [0-9]* suites' "$log"; do
	kill -0 "$watch_pid" 2>/dev/null || { tail -n 40 "$log" >&2; exit 1; }
	sleep 0.2
done

# A first edit of each warms the compiled suites.
for f in "${edits[@]}"; do n=$(wc -l <"$log"); edit "$f" 0; next_result "$n" >/dev/null; done

declare -A times
for i in $(seq "$RUNS"); do
	for f in "${edits[@]}"; do
		n=$(wc -l <"$log")
		t0=$(ms)
		edit "$f" "$i"
		line=$(next_result "$n")
		took=$(($(ms) - t0))
		times[$f]+="$took "
		printf '  %-26s save -> result %6d ms   %s\n' "$f" "$took" "$line"
	done
done
stop_watch

t0=$(ms)
make_status=0
bash devtools/test.sh >/dev/null 2>&1 || make_status=$?
test_ms=$(($(ms) - t0))

median() { printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo
for f in "${edits[@]}"; do
	printf 'make watch, edit in %-14s median save -> result %6.0f ms (n=%d)\n' "${f%/*}" "$(median "${times[$f]}")" "$RUNS"
done
printf 'make test, every suite:         %6d ms (exit status %d)\n' "$test_ms" "$make_status"
