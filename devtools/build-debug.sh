#!/bin/sh
# The API built for the debugger. air runs it on every reload under
# make debug; the debug stack's migrate step runs it first, so air's first
# build finds the binary up to date instead of linking it a second time.
#
#   sh devtools/build-debug.sh [output] [package]
#
# -N -l: no optimisation, no inlining, so every line and variable is where
# the source says; for every package, as optimised dependencies carry
# location lists and inlined calls that make Delve's start slower.
# Uncompressed DWARF: Delve reads it on every start, and the link skips
# the compression. A separate binary keeps make dev's tmp/api.
# No cgo, as in the release image and make dev's build.
set -eu
export CGO_ENABLED=0
out=${1:-./tmp/api-debug}
mkdir -p "$(dirname "$out")"
exec go build -gcflags='all=-N -l' -ldflags=-compressdwarf=false -o "$out" "${2:-./app/cmd/api}"
