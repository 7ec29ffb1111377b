#!/usr/bin/env bash
# make k8s-check: render every overlay under deploy/k8s/overlays with the
# kustomize pinned in deploy/k8s/check/go.mod, decode each object strictly
# into the k8s.io/api types, and run the Ginkgo policy suite over them.
# The checker is its own Go module, so Kubernetes libraries never enter the
# API's module, vulnerability scan or image. No cluster is involved: after
# the module cache is filled, the check runs with no network at all.
set -euo pipefail
cd "$(dirname "$0")/.."

GO_IMAGE=${GO_IMAGE:-golang:1.27-trixie}
uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}
run=(docker run --rm -u "$uid:$gid" -v "$PWD:/src:ro" -w /src/deploy/k8s/check
	-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache"
	-e GOCACHE=/cache -e HOME=/tmp)

echo "k8s-check: module cache (kustomize, k8s.io/api) and a tidy go.mod"
"${run[@]}" -e GOFLAGS=-buildvcs=false "$GO_IMAGE" sh -c 'go mod download && go mod tidy -diff' \
	|| { echo "k8s-check: deploy/k8s/check/go.mod is not tidy: run go mod tidy there" >&2; exit 1; }

echo "k8s-check: render, decode strictly and check policies, offline"
"${run[@]}" --network none -e GOPROXY=off -e GOFLAGS="-mod=readonly -buildvcs=false" "$GO_IMAGE" sh -c '
	unformatted=$(gofmt -l .)
	if [ -n "$unformatted" ]; then echo "gofmt: $unformatted"; exit 1; fi
	go vet ./... && go test -count=1 ./...'
echo "k8s-check: ok"
