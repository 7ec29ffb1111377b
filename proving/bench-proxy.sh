#!/usr/bin/env bash
# make bench-proxy: the latency the dev proxy adds, on the running dev
# stack. One client (vegeta, one worker, back to back, keep-alive) in the
# compose network sends GET /hello straight to the API and through the
# proxy, alternating (A B A B) ROUNDS times for SECONDS each, and prints
# each side's median p50 and p99 and the difference.
#
#   ROUNDS=4 SECONDS_EACH=5 make bench-proxy
set -euo pipefail
cd "$(dirname "$0")/.."
source proving/vegeta.sh

ROUNDS=${ROUNDS:-4}
SECONDS_EACH=${SECONDS_EACH:-5}
mkdir -p tmp
vegeta --rm -- -version >/dev/null

# p50 and p99 in microseconds of one run against $1.
run() {
	echo "GET $1/hello" >tmp/bench-proxy-targets.txt
	vegeta --rm -- attack -targets tmp/bench-proxy-targets.txt -rate 0 -workers 1 -max-workers 1 \
		-duration "${SECONDS_EACH}s" -output tmp/bench-proxy.bin
	local report
	report=$(vegeta --rm -- report -type json tmp/bench-proxy.bin)
	[[ "$report" == *'"errors":[]'* ]] || { echo "bench-proxy: errors against $1: $report" >&2; exit 1; }
	awk -v r="$report" 'BEGIN {
		match(r, /"50th":[0-9]+/); p50 = substr(r, RSTART + 7, RLENGTH - 7)
		match(r, /"99th":[0-9]+/); p99 = substr(r, RSTART + 7, RLENGTH - 7)
		match(r, /"requests":[0-9]+/); n = substr(r, RSTART + 11, RLENGTH - 11)
		printf "%d %d %d\n", p50 / 1000, p99 / 1000, n }'
}
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

direct50=() direct99=() proxy50=() proxy99=()
echo "bench-proxy: GET /hello, one client back to back, ${SECONDS_EACH} s a run, direct (api:5000) and through the proxy (proxy:5000) alternating"
for i in $(seq "$ROUNDS"); do
	read -r a50 a99 an < <(run http://api:5000)
	read -r b50 b99 bn < <(run http://proxy:5000)
	direct50+=("$a50") direct99+=("$a99") proxy50+=("$b50") proxy99+=("$b99")
	printf '  round %d: direct p50 %5d us p99 %6d us (%d requests)   proxy p50 %5d us p99 %6d us (%d requests)\n' \
		"$i" "$a50" "$a99" "$an" "$b50" "$b99" "$bn"
done
d50=$(median "${direct50[@]}") p50=$(median "${proxy50[@]}")
d99=$(median "${direct99[@]}") p99=$(median "${proxy99[@]}")
echo "median p50: direct $d50 us, proxy $p50 us, added $((${p50%.*} - ${d50%.*})) us"
echo "median p99: direct $d99 us, proxy $p99 us, added $((${p99%.*} - ${d99%.*})) us"
