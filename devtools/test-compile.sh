#!/usr/bin/env bash
# Compiles every package's test binary with -race, in parallel, next to its
# package (where Ginkgo runs it), and prints "suite milliseconds" per suite.
# Separate from the run so that the database can start meanwhile and the
# compile and run times can be told apart. Runs in the test container.
set -euo pipefail
cd "$(dirname "$0")/.."

compile() {
	local dir=$1 t0 t1
	t0=${EPOCHREALTIME/[.,]/}
	go test -race -c -o "$dir/$(basename "$dir").test" "./$dir" >&2
	t1=${EPOCHREALTIME/[.,]/}
	echo "$dir $(((t1 - t0) / 1000))"
}
export -f compile

# Packages that have tests, as paths relative to the module root.
go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./app/... |
	sed "s|^$PWD/||" |
	xargs -P "${COMPILERS:-$(nproc)}" -I{} bash -c 'compile "$1"' _ {}
