#!/usr/bin/env bash
# make watch, in the test container (devtools/test.sh runs it, with the
# test PostgreSQL): ginkgo watch re-runs, on every save, the suites whose
# package or one it imports (to WATCH_DEPTH levels) changed, each cloning
# its migrated template as make test does. After each run one line says
# which suites ran, passed or failed, how long each took, and the time
# from the change ginkgo noticed (it looks every second) to the result;
# failed specs follow it, with their file:line.
set -uo pipefail
cd "$(dirname "$0")/.."

# The server lives for the whole session: drop what each run creates.
export TEST_DATABASE_DISPOSABLE=0
out=reports/watch
rm -rf "$out" && mkdir -p "$out"
ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
fifo=$(mktemp -u) && mkfifo "$fifo" && exec 4<>"$fifo" && rm -f "$fifo"
# The summary tool, built once now rather than on the first result.
go -C devtools build -o "$PWD/$out/testfailures" ./testfailures || exit 1

t0=$(ms)
ginkgo watch -r -p --depth="${WATCH_DEPTH:-1}" --randomize-all \
	--json-report=report.json --output-dir="$out" ./app 2>&1 |
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case $line in
		*"Detected changes in:"*) t0=$(ms) ;;
		*"Done.  Resuming watch..."*)
			# ginkgo writes the run's report just after this line: wait
			# until it is there and whole (up to 3 s).
			summary="(no report)"
			for _ in $(seq 300); do
				if [[ -f "$out/report.json" && "$out/report.json" -nt "$out/seen" ]] &&
					summary=$("$out/testfailures" -root "$PWD" -summary "$out/report.json" 2>/dev/null); then
					break
				fi
				read -r -t 0.01 -u 4 || true
			done
			touch "$out/seen"
			printf 'watch: %s: %s (%s s)\n' "$(date +%H:%M:%S)" "$(head -n 1 <<<"$summary")" \
				"$(awk -v ms=$(($(ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')"
			tail -n +2 <<<"$summary"
			;;
		esac
	done
