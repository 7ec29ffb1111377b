#!/bin/sh
# Run on the host by VS Code before it starts .devcontainer (initializeCommand),
# doing what make does before `make dev`: the dev image is built for your
# uid/gid, under the names make derives from its NAME (both kept in .env,
# which compose reads), and the Go cache volumes exist.
set -eu
cd "$(dirname "$0")/.."
if ! grep -qs '^HOST_UID=' .env; then
	printf '# Containers run as you (added for .devcontainer).\nHOST_UID=%s\nHOST_GID=%s\n' "$(id -u)" "$(id -g)" >> .env
	echo "devcontainer: wrote HOST_UID/HOST_GID to .env"
fi
if ! grep -qs '^GOMOD_VOLUME=' .env; then
	{ echo "# Names derived from the Makefile's NAME (added for .devcontainer)."; make -s --no-print-directory names | grep -E '^(PROJECT|DEV_IMAGE|GOMOD_VOLUME|GOCACHE_VOLUME)='; } >> .env
	echo "devcontainer: wrote the names of the project, its images and cache volumes to .env"
fi
for v in $(sed -n 's/^GO\(MOD\|CACHE\)_VOLUME=//p' .env); do
	docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
done
