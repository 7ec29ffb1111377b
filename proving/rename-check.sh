#!/usr/bin/env bash
# make rename-check: prove make rename on a fresh copy of HEAD. The copy
# gets a random module path and name and, as make rename gives by default,
# no proving ground; then git grep finds neither the old module path nor
# the old name, in any spelling, outside the allow-list below, and the
# copy passes its own .ci/run (check, test, test-race, fuzz, smoke, vuln,
# e2e, ...) under its own compose projects, ports and images. The copy sits
# beside this checkout, so ../shared resolves as it does here. It is removed
# at the end with its containers, images and volumes, however the check ends.
#
# Cost: the copy's images reuse the dependency layers already built here
# (Dockerfile.dev gives them a go.mod whose module line never changes), and
# its Go cache volumes, under their new names, are this checkout's (below):
# what is compiled again is the project's own packages, whose import paths
# changed.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
step() { printf 'rename-check: %-44s (%3d s)\n' "$1" $((SECONDS - start)); }

old_module=$(sed -n 's/^module[[:space:]]*//p' go.mod)
old_name=$(sed -n 's/^NAME[[:space:]]*?=[[:space:]]*//p' Makefile)
# This checkout's cache volumes, as make names them (make exports them).
our_volumes=("$GOMOD_VOLUME" "$GOCACHE_VOLUME")
export HOST_UID=${HOST_UID:-$(id -u)} HOST_GID=${HOST_GID:-$(id -g)}

# Two words, so the snake, SCREAMING and Go spellings differ from the name.
suffix=$(printf '%04x%04x' $RANDOM $RANDOM)
name=rn$suffix-svc module=example.org/ci-$suffix/service
copy=$(mktemp -d "$PWD/../.rename-check-$suffix.XXXX")

cleanup() {
	status=$?
	cd "$copy/.." || true
	if [[ -d "$copy" ]]; then
		(cd "$copy" && docker compose -p "$name" -f compose.dev.yml down --volumes --remove-orphans --timeout 5 &&
			docker compose -p "$name-test" -f compose.test.yml down --remove-orphans --timeout 5) >/dev/null 2>&1 || true
	fi
	for project in "$name" "$name-test" "$name-ci" "$name-ci-test"; do
		left=$(docker ps --all --quiet --filter "label=com.docker.compose.project=$project" 2>/dev/null || true)
		[[ -z "$left" ]] || docker rm -f $left >/dev/null 2>&1 || true
	done
	docker image rm --force "$name:latest" "$name-ci:latest" "$name-dev" "$name-test" "$name-vuln" "$name-newman" \
		"$name-ci-dev" "$name-ci-test" "$name-ci-vuln" "$name-ci-newman" >/dev/null 2>&1 || true
	docker volume rm "$name-ci-gomod-$HOST_UID" "$name-ci-gocache-$HOST_UID" "${name}_pgdata" >/dev/null 2>&1 || true
	rm -rf "$copy"
	if ((status == 0)); then step "ok, copy and its containers removed"; else step "FAILED (exit $status)"; fi
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rename=$PWD/proving/rename.sh
git clone --quiet "$PWD" "$copy"
git -C "$copy" checkout --quiet --detach "$(git rev-parse HEAD)"
cd "$copy"
git config user.name rename-check && git config user.email rename-check@localhost
step "cloned HEAD $(git rev-parse --short HEAD) to $(basename "$copy")"

# The copy's stacks are its own: ports (the ones after ours; its .ci/run
# names its own project) and, once renamed, the images its defaults name.
unset NAME PROJECT VERSION GOMOD_VOLUME GOCACHE_VOLUME
export API_PORT=$((${API_PORT:-5000} + 10)) DB_PORT=$((${DB_PORT:-5432} + 10))
export LB_PORT=$((${LB_PORT:-5233} + 10)) DEBUG_PORT=$((${DEBUG_PORT:-2345} + 10))
export ADMIN_PORT=$((${ADMIN_PORT:-9090} + 10)) JAEGER_UI_PORT=$((${JAEGER_UI_PORT:-16686} + 10))
export JAEGER_OTLP_PORT=$((${JAEGER_OTLP_PORT:-4318} + 10))

# Refusals: an untracked file, a name that is no DNS label, a module path
# without a domain; each writes nothing.
touch untracked-file
if bash "$rename" "$module" "$name" 2>/dev/null; then
	echo "rename-check: make rename accepted a tree with an untracked file" >&2
	exit 1
fi
rm untracked-file
for args in "$module Not_A_Label" "not-a-domain $name"; do
	# shellcheck disable=SC2086 # two words on purpose
	if bash "$rename" $args 2>/dev/null || [[ -n "$(git status --porcelain)" ]]; then
		echo "rename-check: make rename $args was not refused, or wrote after refusing" >&2
		exit 1
	fi
done
step "refused a dirty tree, a bad name, a bad module"

bash "$rename" "$module" "$name" >/dev/null
git commit --quiet -m "Rename to $name"
unset IMAGE DEV_IMAGE TEST_IMAGE VULN_IMAGE LB_IMAGE NEWMAN_IMAGE NEXT_IMAGE
[[ ! -e proving ]] || { echo "rename-check: make rename kept proving/" >&2; exit 1; }
step "renamed to $name ($module), without the proving ground"

# The copy's cache volumes are bound to this checkout's: Go's module and
# build caches are content-addressed and safe for concurrent go commands.
# Fresh ones would download modules and compile tools again (make lint took
# 65 s so, against 140-250 s with fresh volumes). Removing the copy's
# volumes leaves these untouched.
for kind in gomod gocache; do
	ours=${our_volumes[0]}
	[[ $kind == gomod ]] || ours=${our_volumes[1]}
	if dir=$(docker volume inspect -f '{{.Mountpoint}}' "$ours" 2>/dev/null); then
		# The copy's .ci/run runs under the project $name-ci.
		docker volume create --driver local --opt type=none --opt o=bind --opt device="$dir" \
			"$name-ci-$kind-$HOST_UID" >/dev/null
	fi
done

again=$(bash "$rename" "$module" "$name")
if [[ "$again" != *"nothing to do"* || -n "$(git status --porcelain)" ]]; then
	echo "rename-check: make rename run again changed the tree: $again" >&2
	exit 1
fi
step "make rename again: nothing to do"

# The allow-list: pathspecs exempt from the search, each with its reason.
# It is empty: nothing in the tree names the old project once renamed.
# What the search leaves out by construction is the example domain, which
# make rename keeps: the word twitter alone (package twitter, Twitter-like,
# the dev database user), never followed by the name's second word. Any
# other spelling of the name (with underscores, in capitals, joined) fails
# here: make rename rewrites the name only as NAME spells it.
allow=()
words=${old_name//-/[-_]?}
if git grep -n -I -F -e "$old_module" -- . "${allow[@]}" ||
	git grep -n -I -i -E -e "$words" -- . "${allow[@]}"; then
	echo "rename-check: the lines above still name $old_module or $old_name, or spell the name otherwise: derive it from the Makefile's NAME or the module path (or, if it must stay, give it an entry with its reason in the allow-list of $0)" >&2
	exit 1
fi
step "git grep: no $old_module, no $old_name in any spelling"

# What a team inherits: the tools beside the service.
step "devtools/: $(find devtools -type f \( -name '*.go' -o -name '*.sh' -o -name '*.pl' -o -name '*.mjs' \) -exec cat {} + | wc -l) lines of Go and scripts"
bash .ci/run
step "the copy's own .ci/run"
