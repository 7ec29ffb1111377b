#!/bin/sh
# Regenerates the OpenAPI docs when what swag reads has changed: annotation
# comments and the API's request/response types. Handler bodies don't count,
# so most reloads skip swag entirely.
set -eu
stamp=tmp/.swag-input.sha256
mkdir -p tmp
sum=$( (grep -h '^[[:space:]]*//[[:space:]]*@' app/httpapi/*.go; cat app/httpapi/dto.go app/httpapi/problem.go) | sha256sum)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sum" ] && [ -f docs/docs.go ]; then
	exit 0
fi
echo "swag: API annotations changed; regenerating docs/"
sh devtools/swag.sh
echo "$sum" > "$stamp"
