#!/usr/bin/env bash
# make stacks-apart: two checkouts, one PROJECT each, keep each other's
# containers and volumes. Two copies of the Makefile and compose files in
# temporary directories stand for two clones: A creates its stack's
# containers (without starting them), B's make up must refuse to take over
# A's PROJECT, naming A's directory; then B creates its own and make clean
# removes B's and nothing of A's; then, with cache volumes and images of
# each in place, B's make clean-all removes B's and nothing of A's. Nothing
# is built or started: seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

base="$PROJECT-apart"
a="$base-a" b="$base-b"
# The names make derives from PROJECT, not the caller's.
unset IMAGE DEV_IMAGE TEST_IMAGE VULN_IMAGE NEWMAN_IMAGE GOMOD_VOLUME GOCACHE_VOLUME
dirs=$(mktemp -d)
mkdir "$dirs/a" "$dirs/b"
cp Makefile compose.*.yml "$dirs/a/"
cp Makefile compose.*.yml "$dirs/b/"

fail() { echo "stacks-apart: FAIL: $*" >&2; exit 1; }
# The names make derives for a project, then those of its cache volumes and
# images: "volume NAME" or "image NAME" lines.
names() { (cd "$dirs/a" && make -s PROJECT="$1" names); }
owned() {
	names "$1" | awk -F= '
		$1 ~ /_VOLUME$/ { print "volume", $2 }
		$1 ~ /IMAGE$/ { print "image", $2 }'
}
containers() { docker ps --all --quiet --filter "label=com.docker.compose.project=$1" | wc -l; }
volume() { docker volume inspect "$1" >/dev/null 2>&1; }
teardown() {
	status=$?
	for p in "$a" "$b"; do
		(cd "$dirs/a" && eval "$(names "$p" | sed 's/^/export /')" &&
			docker compose -p "$p" -f compose.dev.yml down --volumes --remove-orphans --timeout 1) >/dev/null 2>&1 || true
		docker volume rm --force "${p}_pgdata" >/dev/null 2>&1 || true
		owned "$p" | while read -r kind thing; do docker "$kind" rm --force "$thing" >/dev/null 2>&1 || true; done
	done
	rm -rf "$dirs"
	exit "$status"
}
trap teardown EXIT
trap 'exit 130' INT TERM

# The services that need no build: the database (with its named volume) and
# Jaeger (whose image declares a volume).
create() { # dir project
	(cd "$1" && eval "$(names "$2" | sed 's/^/export /')" &&
		docker compose -p "$2" -f compose.dev.yml create --quiet-pull db jaeger >/dev/null 2>&1) ||
		fail "could not create $2's containers"
}

create "$dirs/a" "$a"
n=$(containers "$a")
((n == 2)) || fail "$a has $n containers, want 2"
volume "${a}_pgdata" || fail "no volume ${a}_pgdata"

# B's make up under A's PROJECT: refused before anything is built or replaced.
if out=$(cd "$dirs/b" && make up PROJECT="$a" 2>&1); then
	fail "make up in another directory took over $a"
fi
grep -qF "$dirs/a" <<<"$out" || fail "the refusal does not name $dirs/a: $out"
echo "stacks-apart: refused: $(grep -F "$dirs/a" <<<"$out" | head -n 1)"
((n == $(containers "$a"))) || fail "the refused make up changed $a's containers"

create "$dirs/b" "$b"
mounted=$(docker inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}' \
	$(docker ps --all --quiet --filter "label=com.docker.compose.project=$b"))
(cd "$dirs/b" && make -s clean PROJECT="$b" >/dev/null 2>&1) || fail "make clean of $b failed"
(($(containers "$b") == 0)) || fail "make clean left containers of $b"
! volume "${b}_pgdata" || fail "make clean left ${b}_pgdata"
for v in $mounted; do ! volume "$v" || fail "make clean left $b's volume $v"; done
((n == $(containers "$a"))) || fail "make clean of $b removed containers of $a"
volume "${a}_pgdata" || fail "make clean of $b removed ${a}_pgdata"
echo "stacks-apart: passed: make clean of $b removed $b's containers and volumes ($(echo $mounted)), kept $a's $n containers and its volume"

# Cache volumes and images for both (a small local image stands for each
# image), then B's make clean-all.
for p in "$a" "$b"; do
	owned "$p" | while read -r kind thing; do
		if [[ $kind == volume ]]; then docker volume create "$thing" >/dev/null; else docker tag gcr.io/distroless/static-debian13:nonroot "$thing"; fi
	done
done
(cd "$dirs/b" && make -s clean-all PROJECT="$b" >"$dirs/clean-all.log" 2>&1) || fail "make clean-all of $b failed"
while read -r kind thing; do
	! docker "$kind" inspect "$thing" >/dev/null 2>&1 || fail "make clean-all of $b left its $kind $thing: $(cat "$dirs/clean-all.log")"
done < <(owned "$b")
while read -r kind thing; do
	docker "$kind" inspect "$thing" >/dev/null 2>&1 || fail "make clean-all of $b removed $a's $kind $thing"
done < <(owned "$a")
echo "stacks-apart: passed: make clean-all of $b removed its cache volumes and images, kept $a's ($(owned "$a" | wc -l) of them)"
