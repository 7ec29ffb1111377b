#!/bin/sh
# The one swag invocation, shared by make docs, the drift check and air.
# OUT overrides the output folder (the drift check writes elsewhere).
set -eu
if command -v swag >/dev/null 2>&1; then swag=swag; else swag="go tool swag"; fi
out="${OUT:-docs}"
$swag init --quiet --dir app/httpapi --generalInfo api.go --parseInternal \
	--outputTypes go,json,yaml --output "$out"

# Optional security is an empty requirement, [{}, {"APIKey": []}], which swag
# cannot write. Handlers write `@Security Anonymous` for it (a scheme that is
# never declared); this turns it into {} in all three outputs, exactly as
# swag would print an empty requirement.
perl -0pi -e 's/\{\s*"Anonymous": \[\]\s*\}/{}/g' "$out/swagger.json" "$out/docs.go"
perl -pi -e 's/^(\s*)- Anonymous: \[\]$/$1- {}/' "$out/swagger.yaml"
if grep -n 'Anonymous' "$out/swagger.json" "$out/docs.go" "$out/swagger.yaml"; then
	echo "swag.sh: an Anonymous security requirement was left unconverted" >&2
	exit 1
fi

# The Postman collection checks every response against the schemas of this
# same document: write them into its test script.
mkdir -p "$out/postman"
go run ./devtools/postman-contract -swagger "$out/swagger.json" \
	-collection docs/postman/twitter-api.postman_collection.json \
	-out "$out/postman/twitter-api.postman_collection.json"
