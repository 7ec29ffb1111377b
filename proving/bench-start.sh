#!/usr/bin/env bash
# make bench-start: what the first make up costs a new user, and a warm
# one. Cold: the dev image built with no build cache, then make up on fresh
# cache volumes. Warm: make down, then make up again. Prints each time and
# the dev image's size, under a project of its own, removed after.
#
#   bash proving/bench-start.sh [TREE]   TREE: another checkout to measure
#                                        the same way (an older commit's)
set -euo pipefail
tree=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$tree"
project=start-$RANDOM
# NAME too: older trees name their cache volumes after it.
mk=(make -s NAME="$project" PROJECT="$project")
unset IMAGE DEV_IMAGE TEST_IMAGE VULN_IMAGE NEWMAN_IMAGE GOMOD_VOLUME GOCACHE_VOLUME
trap '"${mk[@]}" clean-all >/dev/null 2>&1 || true' EXIT
eval "$("${mk[@]}" names | sed 's/^/export /')"

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }
t=$(ms)
docker compose -p "$project" -f compose.dev.yml build --no-cache --quiet migrate
build=$(($(ms) - t))
t=$(ms)
"${mk[@]}" up >/dev/null
up=$(($(ms) - t))
"${mk[@]}" down >/dev/null 2>&1
t=$(ms)
"${mk[@]}" up >/dev/null
warm=$(($(ms) - t))
size=$(docker image inspect -f '{{.Size}}' "$DEV_IMAGE" | awk '{ printf "%.2f GB", $1 / 1e9 }')
echo "bench-start: $(git rev-parse --short HEAD): cold $(secs $((build + up))) (image build $(secs "$build"), make up $(secs "$up")), warm make up $(secs "$warm"), dev image $size"
