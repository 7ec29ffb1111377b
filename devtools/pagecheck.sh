#!/usr/bin/env bash
# make pagecheck: an independent check of keyset pagination on the running dev
# stack. devtools/pagecheck writes to the dev database directly (holding one
# insert open while others commit higher ids) and follows Link over HTTP;
# every committed tweet must be seen exactly once.
set -euo pipefail
cd "$(dirname "$0")/.."

args=(-url "http://127.0.0.1:${API_PORT:-5000}"
	-db "postgres://${POSTGRES_USER:-twitter}:${POSTGRES_PASSWORD:-twitter}@127.0.0.1:${DB_PORT:-5432}/${POSTGRES_DB:-twitter}?sslmode=disable")
if command -v go >/dev/null 2>&1 && go -C devtools list -m >/dev/null 2>&1; then
	exec go -C devtools run ./pagecheck "${args[@]}"
fi
# No Go on the host: the dev image, on the host's network so it reaches the
# same published ports.
uid=${HOST_UID:-$(id -u)}
exec docker run --rm --network host -u "$uid:${HOST_GID:-$(id -g)}" -v "$PWD:/src" -w /src \
	-v "twitter-api-gomod-$uid:/go/pkg/mod" -v "twitter-api-gocache-$uid:/cache" \
	"${DEV_IMAGE:-twitter-api-dev}" go -C devtools run ./pagecheck "${args[@]}"
