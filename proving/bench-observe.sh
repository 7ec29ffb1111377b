#!/usr/bin/env bash
# The costs of tracing and metrics, printed: the release binary's size, and
# throughput on the make bench stack (one throwaway PostgreSQL, everything
# on 127.0.0.1), alternating A B A B in one run:
#   base   the API of BASE (default main), before tracing and metrics;
#   off    this tree's API with no OTLP endpoint (tracing off, metrics on);
#   on     this tree's API exporting every request's spans (100 % sampling)
#          to proving/otlpsink, which discards them.
# proving/load prints each pair's ratio: base vs off, then off vs on.
#
#   make bench-observe BASE=main DURATION=5s ROUNDS=3 CONCURRENCY=32
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-main}
export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}
compose=(docker compose -p "$PROJECT-bench" --project-directory . -f proving/compose.bench.yml)
teardown() { "${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1 || true; rm -rf tmp/bench-base; }
trap teardown EXIT
trap 'exit 130' INT TERM

# BASE's tree, beside this one, for the container to build.
rm -rf tmp/bench-base && mkdir -p tmp/bench-base
git archive "$BASE" | tar -x -C tmp/bench-base
echo "bench-observe: base $BASE ($(git rev-parse --short "$BASE")), this tree $(git rev-parse --short HEAD)$(git diff --quiet || echo ' + edits')"
"${compose[@]}" run --rm -e ROUNDS="${ROUNDS:-3}" bench bash proving/bench-observe-run.sh
