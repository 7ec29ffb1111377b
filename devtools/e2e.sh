#!/usr/bin/env bash
# End-to-end check of a running API: the Postman collection, run with newman.
#
#   BASE_URL=http://localhost:5000 bash devtools/e2e.sh [extra newman options]
#
# Starts nothing: the API (and its database) must already be up at BASE_URL.
# Exits non-zero when the collection misses an endpoint of docs/swagger.json
# or when any assertion fails.
set -euo pipefail

# Paths are relative to the repository root, wherever this is called from.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in node npm; do
	command -v "$tool" >/dev/null || { echo "e2e: $tool not found; newman needs Node.js 18 or later with npm (make e2e falls back to a container)" >&2; exit 1; }
done

BASE_URL="${BASE_URL:-http://localhost:5000}"
BASE_URL="${BASE_URL%/}" # the collection's paths begin with a slash
# NEWMAN_HOME: a prepared install (the container fallback sets it).
NEWMAN_DIR="${NEWMAN_HOME:-devtools/newman}"
COLLECTION=docs/postman/api.postman_collection.json
ENVIRONMENT=docs/postman/api.postman_environment.json

# Install the pinned newman only when needed: npm ci wipes and refetches
# node_modules, too slow for every run. A copy of the lockfile taken at install
# time tells whether node_modules still matches it.
stamp="$NEWMAN_DIR/node_modules/.installed-package-lock.json"
if [[ -z "${NEWMAN_HOME:-}" ]] && { [[ ! -x "$NEWMAN_DIR/node_modules/.bin/newman" ]] || ! cmp -s "$NEWMAN_DIR/package-lock.json" "$stamp"; }; then
	echo "e2e: installing newman (npm ci --prefix $NEWMAN_DIR)" >&2
	# Quiet unless it fails: npm's output is only shown then.
	if ! npm_log="$(npm ci --prefix "$NEWMAN_DIR" --no-audit --no-fund 2>&1)"; then
		printf '%s\n' "$npm_log" >&2
		exit 1
	fi
	cp "$NEWMAN_DIR/package-lock.json" "$stamp"
fi

# Fail fast, before a slow run, when the collection lags behind the API.
node devtools/postman-coverage.mjs

# One clear message instead of a failure per request when nothing listens.
if ! node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$BASE_URL/healthz"; then
	echo "e2e: no API answers at $BASE_URL/healthz; start it first (or set BASE_URL)" >&2
	exit 1
fi

# --env-var overrides the environment file's baseUrl; passing assertions are
# left out of the output, failures and the summary table are printed.
exec "$NEWMAN_DIR/node_modules/.bin/newman" run "$COLLECTION" \
	--environment "$ENVIRONMENT" \
	--env-var "baseUrl=$BASE_URL" \
	--reporters cli \
	--reporter-cli-no-success-assertions \
	"$@"
