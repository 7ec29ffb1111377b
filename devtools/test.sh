#!/usr/bin/env bash
# make test: every Ginkgo suite in the test image against a throwaway
# PostgreSQL, under its own compose project. The stack is torn down however
# the run ends (pass, fail, Ctrl-C); the exit status is the suites'.
#
# Where the time goes is printed at the end: the image check, the database
# start, the one compile of every suite and each suite's run; then, if any,
# what failed: each failed spec with its file:line and suite, or the first
# compiler error. The database
# starts while the suites compile (see devtools/test-run.sh).
#
#   bash devtools/test.sh                   everything, as make test does
#   bash devtools/test.sh ginkgo --focus=X ./app/store   any command in the test container
#
# It needs the names make exports (PROJECT, TEST_IMAGE, the cache volumes);
# outside make: set -a; eval "$(make -s names)"; set +a
set -euo pipefail
cd "$(dirname "$0")/.."

compose=(docker compose -p "$PROJECT-test" -f compose.test.yml)
teardown() {
	# No --volumes: the Go caches are shared with the dev stack; the database is on tmpfs.
	"${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1 || true
	# test-run.sh links each suite's binary into its package directory.
	find app -name '*.test' \( -type f -o -type l \) -delete 2>/dev/null || true
}
trap teardown EXIT
trap 'exit 130' INT TERM

# Cache volumes are per uid: their files belong to the user who filled them.
export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}
for v in "$GOMOD_VOLUME" "$GOCACHE_VOLUME"; do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done
mkdir -p reports

# Milliseconds; whole seconds on bash before 5 (macOS's /bin/bash).
if [[ -n "${EPOCHREALTIME:-}" ]]; then
	now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
else
	now() { echo $(($(date +%s) * 1000)); }
fi
start=$(now)
breakdown=()
took() { breakdown+=("$(printf '  %-34s %6.1f s' "$1" "$(awk -v ms="$2" 'BEGIN { print ms / 1000 }')")"); }

# The image holds only the toolchain, tools and compiled dependencies, so it
# is rebuilt only when what goes into those changed; code is bind-mounted.
t=$(now)
image=$TEST_IMAGE
export TEST_INPUTS
TEST_INPUTS=$(cat Dockerfile.dev go.mod go.sum | cksum | cut -d' ' -f1)-$HOST_UID-$HOST_GID
if [[ "$(docker image inspect -f '{{index .Config.Labels "inputs"}}' "$image" 2>/dev/null)" == "$TEST_INPUTS" ]]; then
	took "image check (up to date)" $(($(now) - t))
else
	"${compose[@]}" build --quiet test
	took "image build" $(($(now) - t))
fi

if (($#)); then
	"${compose[@]}" run --rm test "$@"
	exit
fi

# PostgreSQL starts while the suites compile; the suites wait for it.
"${compose[@]}" create --quiet-pull db restore-db >/dev/null 2>&1 || "${compose[@]}" create db restore-db >/dev/null
t_db=$(now)
dblog=$(mktemp) dbready=$(mktemp)
{ "${compose[@]}" up --detach --wait db restore-db >"$dblog" 2>&1 && now >"$dbready"; } &
db_pid=$!

t=$(now)
status=0
summary=$("${compose[@]}" run --rm --no-deps -T -e PROJECT="$PROJECT" -e SUITES_AT_ONCE="${SUITES_AT_ONCE:-1}" -e RACE="${RACE:-0}" \
	test bash devtools/test-run.sh) || status=$?
took_all=$(($(now) - t))
if ! wait "$db_pid"; then
	cat "$dblog" >&2
	echo "make test: the test database did not become ready" >&2
	status=1
fi
[[ -s "$dbready" ]] && took "database ready (from its start)" $(($(<"$dbready") - t_db))
rm -f "$dblog" "$dbready"
took "compile and run, all suites" "$took_all"
while read -r what what_status ms; do
	[[ -n "$what" ]] || continue
	if [[ "$what" == compile ]]; then took "  compile, all suites" "$ms"; else took "  run $what" "$ms"; fi
	[[ "$what_status" == 0 ]] || status=1
done <<<"$summary"
[[ -n "$summary" ]] || status=1
# A failure may come from the server itself (a crash, a restart): keep its log.
if ((status != 0)); then
	"${compose[@]}" logs --no-color db >reports/db.log 2>&1 || true
	if grep -q "terminated by signal\|terminating any other active server" reports/db.log; then
		echo "make test: PostgreSQL restarted during the run; see reports/db.log" >&2
	fi
fi

echo
echo "make test: where the time went"
printf '%s\n' "${breakdown[@]}"
took "total" $(($(now) - start))
printf '%s\n' "${breakdown[${#breakdown[@]} - 1]}"
# Last, what failed (written by test-run.sh), so the last screen is enough.
if ((status != 0)) && [[ -s reports/failures.txt ]]; then
	echo "make test: what failed"
	cat reports/failures.txt
fi
echo "make test: exit status $status; JUnit report: reports/junit.xml"
exit "$status"
