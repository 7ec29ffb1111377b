#!/usr/bin/env bash
# make bench: the API against the floor server (proving/floor: net/http +
# pgxpool with prepared statements, the same SQL) on one throwaway
# PostgreSQL, in the same run, alternating the two. Bounded in time; every
# container is removed however the run ends.
#
#   DURATION=5s ROUNDS=2 CONCURRENCY=32 make bench
set -euo pipefail
cd "$(dirname "$0")/.."

export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}
compose=(docker compose -p "$PROJECT-bench" --project-directory . -f proving/compose.bench.yml)
teardown() { "${compose[@]}" down --remove-orphans --timeout 5 >/dev/null 2>&1 || true; }
trap teardown EXIT
trap 'exit 130' INT TERM

for v in "$GOMOD_VOLUME" "$GOCACHE_VOLUME"; do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done
# The dev image has the toolchain; build it when missing.
if ! docker image inspect "$DEV_IMAGE" >/dev/null 2>&1; then
	docker compose -p "$PROJECT" -f compose.dev.yml build migrate
fi
"${compose[@]}" run --rm bench
