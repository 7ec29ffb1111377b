#!/usr/bin/env bash
# make contract: does the API answer as docs/swagger.json says?
#
#   bash devtools/contract.sh [TARGET]    (TARGET: the API's base URL)
#
# Builds devtools/contract (a validating proxy on kin-openapi, in a module of
# its own so the API's go.mod stays lean), sends hostile requests through
# it, then runs the Postman collection through it with devtools/e2e.sh. Fails
# on any response the document does not describe, on a hostile request
# answered with an unexpected status, and on any failed Postman assertion.
# Needs Go and Node.js; make contract runs it in the newman image.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET="${1:-${TARGET:-http://localhost:5000}}"
bin="${TMPDIR:-/tmp}/twitter-api-contract"
(cd devtools/contract && go build -o "$bin" .)
exec "$bin" -spec docs/swagger.json -target "$TARGET" -- bash devtools/e2e.sh
