#!/usr/bin/env bash
# make test: every Ginkgo suite in the test image against a throwaway
# PostgreSQL, under its own compose project. The stack is torn down however
# the run ends (pass, fail, Ctrl-C); the exit status is the suites'.
set -euo pipefail
cd "$(dirname "$0")/.."

compose=(docker compose -p "${PROJECT:-twitter-api}-test" -f compose.test.yml)
teardown() {
	# No --volumes: the Go caches are shared with the dev stack; the database is on tmpfs.
	"${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1 || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Cache volumes are per uid: their files belong to the user who filled them.
export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}
for v in "twitter-api-gomod-$HOST_UID" "twitter-api-gocache-$HOST_UID"; do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done
mkdir -p reports
start=$(date +%s)
"${compose[@]}" build --quiet test
status=0
"${compose[@]}" run --rm test "$@" || status=$?
echo "make test: exit status $status after $(( $(date +%s) - start ))s; JUnit report: reports/junit.xml"
exit "$status"
