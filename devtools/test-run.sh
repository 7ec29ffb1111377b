#!/usr/bin/env bash
# Runs in the test container (see devtools/test.sh). Every package's Ginkgo
# suite is compiled with -race, all at once, then the suites run. Each
# suite's output is printed whole when it finishes; reports/junit.xml gathers
# every suite's report.
#
# Prints one line per suite for the breakdown: "dir status compile_ms run_ms".
set -uo pipefail
cd "$(dirname "$0")/.."

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }

parts=reports/suites
rm -rf "$parts" && mkdir -p "$parts"
# Binaries outlive the run, so `go test -c` skips the link when nothing they
# are built from changed. One directory per compose project: CI and your
# own runs may share the cache volume at the same time.
bindir=/cache/testbin/${PROJECT:-twitter-api}
mkdir -p "$bindir"
lock=$(mktemp)

compile() {
	local dir=$1 name=${1//\//_} t0
	t0=$(ms)
	if go test -race -c -o "$bindir/$name.test" "./$dir" >"$parts/$name.log" 2>&1; then
		echo "$(($(ms) - t0))" >"$parts/$name.compile"
	else
		{ flock 9; cat "$parts/$name.log" >&2; } 9>"$lock"
		echo "$dir compile-failed $(($(ms) - t0)) 0"
	fi
}

run() {
	local dir=$1 name=${1//\//_} bin status=0 t0
	[[ -f "$parts/$name.compile" ]] || return 0
	bin=$dir/$(basename "$dir").test
	# Ginkgo runs a binary in the directory it is in: the package's, as
	# `go test` would. A link keeps the 50 MB binary out of the tree.
	ln -sf "$bindir/$name.test" "$bin"
	t0=$(ms)
	# --flake-attempts: see the README ("Running the tests").
	ginkgo -p --flake-attempts=2 --randomize-all --fail-on-pending --fail-on-empty \
		--junit-report="$name.xml" --output-dir="$parts" "$bin" >>"$parts/$name.log" 2>&1 || status=$?
	echo "$dir $status $(<"$parts/$name.compile") $(($(ms) - t0))"
	rm -f "$bin"
	{ flock 9; cat "$parts/$name.log" >&2; } 9>"$lock"
}
export -f ms compile run
export parts bindir lock

# Packages that have tests, as paths relative to the module root: those
# whose suites use the database, and the others.
mapfile -t dirs < <(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./app/... | sed "s|^$PWD/||")
module=$(go list -m)
mapfile -t db_dirs < <(go list -test -f '{{.ImportPath}} {{join .Deps " "}}' ./app/... |
	awk '$1 ~ /\.test$/ && / [^ ]*\/app\/internal\/testdb( |$|\[)/ { print $1 }' |
	sed -e "s|^$module/||" -e 's|\.test$||')
mapfile -t plain_dirs < <(printf '%s\n' "${dirs[@]}" | grep -vxF -f <(printf '%s\n' "${db_dirs[@]}" ""))

# Every suite compiles at once; PostgreSQL finishes starting meanwhile.
printf '%s\n' "${dirs[@]}" | xargs -P 0 -I{} bash -c 'compile "$1"' _ {}
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
