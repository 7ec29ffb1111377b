#!/usr/bin/env bash
# make test-debug: the debug stack (compose.dev.yml + compose.debug.yml) under
# a compose project of its own, on free ports of 127.0.0.1, so it runs beside
# a developer's stack; then proving/debugcheck attaches over the published
# Delve port as an editor would, before and after an edit. The stack, its
# database and the edit are undone however the run ends.
set -euo pipefail
cd "$(dirname "$0")/.."

project="$PROJECT-debugtest"
# 0: Docker picks a free port; `compose port` tells which.
export API_PORT=0 DB_PORT=0 DEBUG_PORT=0 ADMIN_PORT=0 JAEGER_UI_PORT=0 JAEGER_OTLP_PORT=0
export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}
image=$DEV_IMAGE
compose=(docker compose -p "$project" -f compose.dev.yml -f compose.debug.yml)
edited=app/httpapi/health.go   # debugcheck edits it and restores it; so do we
backup=$(mktemp)
cp "$edited" "$backup"

teardown() {
	status=$?
	cmp -s "$backup" "$edited" || cp "$backup" "$edited"
	rm -f "$backup"
	if [ "$status" -ne 0 ]; then
		echo "test-debug: failed; the API's last log lines:" >&2
		"${compose[@]}" logs --no-color --tail=40 api >&2 2>/dev/null || true
	fi
	# --volumes drops this project's database; the Go caches are external.
	"${compose[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
	exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

for v in "$GOMOD_VOLUME" "$GOCACHE_VOLUME"; do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done

start=$(date +%s)
"${compose[@]}" build --quiet migrate
t0=$(date +%s)
timeout 900 "${compose[@]}" up --detach --wait --quiet-pull
echo "test-debug: debug stack healthy in $(( $(date +%s) - t0 ))s"
api=$("${compose[@]}" port proxy 5000)
dlv=$("${compose[@]}" port api 2345)

# The checker runs in the dev image on the host's network: it reaches the
# API and Delve through the same 127.0.0.1 ports as an editor does.
timeout 300 docker run --rm --network host --user "$HOST_UID:$HOST_GID" \
	-v "$PWD:/src" -v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
	-w /src "$image" sh -c 'go -C proving build -o /tmp/debugcheck ./debugcheck && exec /tmp/debugcheck "$@"' \
	debugcheck -api "http://$api" -dlv "$dlv" -timeout 3m
echo "test-debug: passed in $(( $(date +%s) - start ))s"
