#!/usr/bin/env bash
# make bench-load: throughput and latency of the running dev stack over its
# published loopback port (proving/load, vegeta), bounded in time, then a check
# that every acknowledged create is readable.
#
#   DURATION=10s CONCURRENCY=16 make bench-load
set -euo pipefail
cd "$(dirname "$0")/.."

url="http://127.0.0.1:${API_PORT:-5000}"
args=(-url "$url" -duration "${DURATION:-10s}" -concurrency "${CONCURRENCY:-16}")
if command -v go >/dev/null 2>&1 && go -C proving list -m >/dev/null 2>&1; then
	exec go -C proving run ./load "${args[@]}"
fi
# No Go on the host: the dev image, on the host's network so it reaches the
# same published port.
uid=${HOST_UID:-$(id -u)}
exec docker run --rm --network host -u "$uid:${HOST_GID:-$(id -g)}" -v "$PWD:/src" -w /src \
	-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
	"$DEV_IMAGE" go -C proving run ./load "${args[@]}"
