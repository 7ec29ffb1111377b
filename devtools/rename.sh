#!/usr/bin/env bash
# make rename: give this tree a Go module path and a project name of its
# own, the first step of starting a service from it (see
# docs/starting-your-own-service.md). CI runs it as a script:
#
#   bash devtools/rename.sh example.com/acme/notes notes
#
# git runs here, on the host: the tree may be a worktree whose repository
# is outside it. The rewrite itself (devtools/rename) runs in the dev image.
# The result is staged, for review with git diff --staged.
set -euo pipefail
cd "$(dirname "$0")/.."

# The rename rewrites this script too: bash reads a script as it runs it,
# so all of it is in main, and the line that calls main also exits.
main() {
	usage="usage: make rename MODULE=example.com/acme/notes NAME=notes"
	if (($# != 2)) || [[ -z "$1" || -z "$2" ]]; then
		echo "$usage" >&2
		exit 2
	fi
	module=$1 name=$2

	if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		echo "rename: $PWD is not a git checkout: the rename works on the files git tracks" >&2
		exit 1
	fi
	# One commit, one reviewable change, undone by git checkout: never mixed
	# with edits of your own.
	dirty=$(git status --porcelain --untracked-files=normal)
	if [[ -n "$dirty" ]]; then
		echo "rename: refused: the tree has uncommitted changes or untracked files; commit, stash or remove them first:" >&2
		head -n 10 <<<"$dirty" >&2
		exit 1
	fi

	# The dev image has the toolchain; build it when missing. docker run, not
	# compose run: no network or volume of the old project is left behind.
	uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}
	image=${DEV_IMAGE:-twitter-api-dev}
	if ! docker image inspect "$image" >/dev/null 2>&1; then
		HOST_UID=$uid HOST_GID=$gid docker compose -p "${PROJECT:-twitter-api}" -f compose.dev.yml build migrate
	fi
	for v in "twitter-api-gomod-$uid" "twitter-api-gocache-$uid"; do
		docker volume inspect "$v" >/dev/null 2>&1 || docker volume create "$v" >/dev/null
	done
	git ls-files -z | docker run --rm -i -u "$uid:$gid" -v "$PWD:/src" -w /src \
		-v "twitter-api-gomod-$uid:/go/pkg/mod" -v "twitter-api-gocache-$uid:/cache" \
		"$image" go -C devtools/rename run . -root /src -module "$module" -name "$name"
	git add --all
	if ! git diff --staged --quiet; then
		echo "rename: staged; review with git diff --staged, then commit. Then make test."
	fi
}
main "$@"; exit
