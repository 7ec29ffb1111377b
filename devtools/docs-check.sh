#!/bin/sh
# make docs-check: regenerate the OpenAPI docs aside and compare them with
# the committed ones, so annotations and docs/ cannot drift apart.
set -eu
out=tmp/docs-check/docs
rm -rf "$out"
OUT="$out" sh devtools/swag.sh
status=0
for f in docs.go swagger.json swagger.yaml; do
	diff -u "docs/$f" "$out/$f" || status=1
done
if [ "$status" -ne 0 ]; then
	echo "docs/ is stale: run make docs and commit the result" >&2
else
	echo "docs-check: docs/ matches the annotations"
fi
exit "$status"
