#!/bin/sh
# make docs-check: regenerate the OpenAPI docs (and the schemas in the
# Postman collection's script) aside and compare them with the committed
# ones, so annotations, docs/ and the collection cannot drift apart.
set -eu
out=tmp/docs-check/docs
rm -rf "$out"
OUT="$out" sh devtools/swag.sh
status=0
for f in docs.go swagger.json swagger.yaml postman/twitter-api.postman_collection.json; do
	diff -u "docs/$f" "$out/$f" || status=1
done
if [ "$status" -ne 0 ]; then
	echo "docs/ is stale: run make docs and commit the result" >&2
else
	echo "docs-check: docs/ matches the annotations"
fi
exit "$status"
