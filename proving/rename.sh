#!/usr/bin/env bash
# make rename: give this tree a Go module path and a name of its own, the
# first step of starting a service from it (docs/starting-your-own-service.md):
#
#   bash proving/rename.sh example.com/acme/notes notes
#   KEEP_PROVING=1 bash proving/rename.sh ...   keep the proving ground
#
# By default the renamed tree leaves out the proving ground: proving/ and
# the passages of README.md, docs/ and .env.example fenced by
# <!-- proving --> and <!-- /proving --> lines. The module path is rewritten wherever it stands (every go.mod, every
# import), as gonew does; the name is the Makefile's NAME, from which every
# name a stack, an image or the service uses derives, and it is rewritten
# too where the manifests and the prose spell it out. The result is staged,
# for review with git diff --staged.
set -euo pipefail
# The tree rename runs in: the one the caller is in (rename-check runs it on a copy).
cd "$(git rev-parse --show-toplevel)"

# The rename rewrites this script too: bash reads a script as it runs it,
# so all of it is in main, and the line that calls main also exits.
main() {
	if (($# != 2)); then
		echo "usage: make rename MODULE=example.com/acme/notes NAME=notes" >&2
		exit 2
	fi
	module=$1 name=$2
	# A module path go accepts, with a dot in its first element; a name that
	# is a DNS label (it names Kubernetes objects, compose projects, images).
	if ! [[ "$module" =~ ^[a-z0-9-]+(\.[a-z0-9-]+)+(/[A-Za-z0-9._~-]+)*$ ]]; then
		echo "rename: module path $module: want a domain, then path elements, as example.com/acme/notes" >&2
		exit 2
	fi
	if ! [[ "$name" =~ ^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$ ]] || [[ "$name" =~ ^(y|n|yes|no|on|off|true|false|null)$ ]]; then
		echo "rename: name $name: want a DNS label of at most 40 characters (a-z, 0-9, '-'), not a YAML boolean" >&2
		exit 2
	fi
	if [[ -n "$(git status --porcelain --untracked-files=normal)" ]]; then
		echo "rename: refused: the tree has uncommitted changes or untracked files; commit, stash or remove them first" >&2
		exit 1
	fi
	old_module=$(sed -n 's/^module[[:space:]]*//p' go.mod)
	old_name=$(sed -n 's/^NAME[[:space:]]*?=[[:space:]]*//p' Makefile)
	if [[ "$old_module" == "$module" && "$old_name" == "$name" ]]; then
		echo "rename: already named $name (module $module); nothing to do"
		return
	fi
	if [[ "${KEEP_PROVING:-}" != 1 && -d proving ]]; then
		git rm -r -q proving
		perl -0pi devtools/lean.pl README.md docs/*.md .env.example
		echo "rename: left out the proving ground (proving/ and the docs' passages about it; KEEP_PROVING=1 keeps them)"
	fi
	# Longest first: the module path contains the name.
	git grep -lz -F -e "$old_module" | xargs -0 -r sed -i "s#$old_module#$module#g"
	git grep -lz -w -F -e "$old_name" | xargs -0 -r sed -i "s/\b$old_name\b/$name/g"
	git add --all
	echo "rename: staged; review with git diff --staged, then commit. Then make test."
}
main "$@"; exit
