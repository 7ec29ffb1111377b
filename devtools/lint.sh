#!/bin/sh
# make lint: formatting, vet and a tidy go.mod. Runs in the dev image.
set -eu
status=0
unformatted=$(gofmt -l app docs devtools)
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting (run gofmt -w):"
	echo "$unformatted"
	status=1
fi
go vet ./... || status=1
go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; status=1; }
# devtools/contract is a module of its own (it keeps kin-openapi out of go.mod).
(cd devtools/contract && go vet ./... && go mod tidy -diff) ||
	{ echo "devtools/contract: vet or go mod tidy failed"; status=1; }
(cd devtools/rename && go vet ./... && go mod tidy -diff) ||
	{ echo "devtools/rename: vet or go mod tidy failed"; status=1; }
[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
