#!/usr/bin/env bash
# Runs in the test container (see devtools/test.sh). Every package's Ginkgo
# suite is compiled (with -race when RACE=1), then the suites run. Each
# suite's output is printed whole when it finishes; reports/junit.xml gathers
# every suite's report.
#
# Prints the breakdown's lines: "compile status ms", then "dir status ms" a
# suite. When something failed, reports/failures.txt says what: the first
# compiler error, or each failed spec with its file:line and suite (from
# Ginkgo's JSON reports); make test prints it last.
set -uo pipefail
cd "$(dirname "$0")/.."

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

parts=reports/suites
rm -rf "$parts" reports/failures.txt && mkdir -p "$parts"
# Binaries outlive the run, so `go test -c` skips the link when nothing they
# are built from changed. One directory per compose project: CI and your
# own runs may share the cache volume at the same time.
# RACE=1 builds with the race detector (make test-race), in binaries of its
# own.
export RACE=${RACE:-0}
bindir=/cache/testbin/$PROJECT
# -race needs cgo, which the image turns off; its compile of every
# dependency happens on the first run, into the cache volume.
if [[ "$RACE" == 1 ]]; then bindir+=-race; export CGO_ENABLED=1; fi
mkdir -p "$bindir"
lock=$(mktemp)

run() {
	local dir=$1 name=${1##*/} bin status=0 t0
	bin=$dir/$name.test
	# Ginkgo runs a binary in the directory it is in: the package's, as
	# `go test` would. A link keeps the 50 MB binary out of the tree.
	ln -sf "$bindir/$name.test" "$bin"
	t0=$(ms)
	# No retries: a spec that fails once fails the run (docs/testing.md).
	ginkgo -p --randomize-all --fail-on-pending --fail-on-empty \
		--junit-report="$name.xml" --json-report="$name.json" --output-dir="$parts" "$bin" >>"$parts/$name.log" 2>&1 || status=$?
	echo "$dir $status $(($(ms) - t0))"
	((status == 0)) || echo "$dir $status" >>"$parts/failed"
	rm -f "$bin"
	{ flock 9; cat "$parts/$name.log" >&2; } 9>"$lock"
}
export -f ms run
export parts bindir lock

# Packages that have tests, as paths relative to the module root, each
# marked when its suite uses the database; one go list for all.
dirs=() db_dirs=() plain_dirs=()
while read -r dir uses_db; do
	dirs+=("$dir")
	if ((uses_db)); then db_dirs+=("$dir"); else plain_dirs+=("$dir"); fi
done < <(go list -test -f '{{.ImportPath}} {{.Dir}} {{.Deps}}' ./app/... |
	awk -v root="$PWD/" '$1 ~ /\.test$/ { sub(root, "", $2); print $2, (/\/app\/internal\/testdb[ \]]/ ? 1 : 0) }')

# One go command compiles every suite (loading the packages once); it skips
# the link of a binary nothing changed in. PostgreSQL finishes starting
# meanwhile.
flags=()
if [[ "$RACE" == 1 ]]; then flags=(-race); fi
t0=$(ms)
if ! go test "${flags[@]}" -c -o "$bindir/" "${dirs[@]/#/./}" 2> >(tee "$parts/compile.log" >&2); then
	echo "compile 1 $(($(ms) - t0))"
	wait # for tee
	first=$(grep -m1 -E '^[^[:space:]#][^:]*\.go:[0-9]+(:[0-9]+)?: ' "$parts/compile.log" || tail -n1 "$parts/compile.log")
	echo "  compile failed: $first" >reports/failures.txt
	exit 1
fi
echo "compile 0 $(($(ms) - t0))"

# Suites without a database run alongside the others: they are quick and
# leave PostgreSQL alone.
printf '%s\n' "${plain_dirs[@]}" | xargs -P 0 -I{} bash -c 'run "$1"' _ {} &
# The database suites run one after another, each across Ginkgo's parallel
# processes. SUITES_AT_ONCE=N runs N at a time, which overlaps more of their
# waiting; on a 2-core machine that has overloaded the test server until it
# restarted, so one at a time is the default.
printf '%s\n' "${db_dirs[@]}" | xargs -P "${SUITES_AT_ONCE:-1}" -I{} bash -c 'run "$1"' _ {}
wait
rm -f "$lock"

# One JUnit file, as CI systems expect: every suite's <testsuite> in one
# <testsuites>.
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	echo '<testsuites>'
	for f in "$parts"/*.xml; do
		[[ -f "$f" ]] && sed -e '/^<?xml/d' -e '/^ *<\/\?testsuites/d' "$f"
	done
	echo '</testsuites>'
} >reports/junit.xml

# What failed, from the suites' JSON reports; a suite that failed with no
# failed spec (it crashed, or found none) is named with its exit status.
if [[ -s "$parts/failed" ]]; then
	out=reports/failures.txt
	go -C devtools run ./testfailures -root "$PWD" "$PWD/$parts"/*.json >"$out" || true
	while read -r dir status; do
		grep -q " $dir " "$out" ||
			echo "  $dir: exit status $status and no failed spec in its report; its output is above" >>"$out"
	done <"$parts/failed"
fi
