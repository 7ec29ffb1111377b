#!/bin/sh
# Run on the host by VS Code before it starts .devcontainer (initializeCommand),
# doing what make does before `make dev`: the dev image is built for your
# uid/gid (kept in .env, which compose reads) and the Go cache volumes exist.
set -eu
cd "$(dirname "$0")/.."
if ! grep -qs '^HOST_UID=' .env; then
	printf '# Containers run as you (added for .devcontainer).\nHOST_UID=%s\nHOST_GID=%s\n' "$(id -u)" "$(id -g)" >> .env
	echo "devcontainer: wrote HOST_UID/HOST_GID to .env"
fi
uid=$(sed -n 's/^HOST_UID=//p' .env | tail -n 1)
for v in "twitter-api-gomod-$uid" "twitter-api-gocache-$uid"; do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done
