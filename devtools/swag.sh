#!/bin/sh
# The one swag invocation, shared by make docs, the drift check and air.
# OUT overrides the output folder (the drift check writes elsewhere).
set -eu
if command -v swag >/dev/null 2>&1; then swag=swag; else swag="go tool swag"; fi
$swag init --quiet --dir app/httpapi --generalInfo api.go --parseInternal \
	--outputTypes go,json,yaml --output "${OUT:-docs}"
