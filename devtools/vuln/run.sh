#!/usr/bin/env bash
# make vuln: build the vuln image (cached; the database layer changes only
# with devtools/go.mod), take the binary out of the release image, and
# scan the source and that binary with no network.
set -euo pipefail
cd "$(dirname "$0")/../.."


start=$SECONDS
docker build -f devtools/vuln/Dockerfile -t "$VULN_IMAGE" .
echo "vuln: image $VULN_IMAGE ready after $((SECONDS - start))s"

release=$(mktemp -d)
box=vuln-$$-$RANDOM
trap 'docker rm -f "$box" >/dev/null 2>&1 || true; rm -rf "$release"' EXIT
docker create --name "$box" "$IMAGE" >/dev/null
docker cp "$box:/api" "$release/api" >/dev/null
chmod -R a+rX "$release"

# Read-only source, modules from the image, no network at all.
docker run --rm --network none -e GOPROXY=off \
	-v "$PWD:/src:ro" -v "$release:/release:ro" "$VULN_IMAGE"
