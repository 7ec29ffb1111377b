#!/bin/sh
# make lint: formatting, vet and a tidy go.mod. Runs in the dev image.
set -eu
status=0
unformatted=$(gofmt -l app docs devtools $(ls -d proving 2>/dev/null))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting (run gofmt -w):"
	echo "$unformatted"
	status=1
fi
go vet ./... || status=1
go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; status=1; }
# The tools are modules of their own, so the service's go.mod holds only
# the service: devtools (the tools and checkers) and, while it is there,
# the proving ground.
for mod in devtools $(ls -d proving 2>/dev/null); do
	(cd "$mod" && go vet ./... && go mod tidy -diff) ||
		{ echo "$mod: vet or go mod tidy failed"; status=1; }
done
[ "$status" -eq 0 ] && echo "lint: ok"
exit "$status"
