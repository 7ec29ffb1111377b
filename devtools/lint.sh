#!/bin/sh
# make lint: golangci-lint (.golangci.yml; pinned by a tool line of
# devtools/go.mod, built once into the cache volume) on every module, and
# tidy go.mod files. Runs in the dev image.
set -eu
export GOLANGCI_LINT_CACHE=/cache/golangci-lint
go -C devtools install github.com/golangci/golangci-lint/v2/cmd/golangci-lint
status=0
# The service's module, the tooling module and, while it is there, the
# proving ground's; golangci-lint finds .golangci.yml in the root.
for mod in . devtools $(ls -d proving 2>/dev/null); do
	(cd "$mod" && golangci-lint run ./... && go mod tidy -diff) ||
		{ echo "lint: $mod: the findings above, or go.mod is not tidy (go mod tidy there)"; status=1; }
done
[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
