#!/usr/bin/env bash
# make k8s-check: render every overlay under deploy/k8s/overlays with the
# kustomize pinned in devtools/go.mod, decode each object strictly into the
# k8s.io/api types, and run the Ginkgo policy suite (devtools/k8scheck) over
# them. The checker is in the tooling module, so Kubernetes libraries never
# enter the API's module or image. No cluster is involved: after
# the module cache is filled, the check runs with no network at all.
set -euo pipefail
cd "$(dirname "$0")/.."

GO_IMAGE=${GO_IMAGE:-golang:1.27-trixie}
uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}
run=(docker run --rm -u "$uid:$gid" -v "$PWD:/src:ro" -w /src/devtools
	-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache"
	-e GOCACHE=/cache -e HOME=/tmp)

echo "k8s-check: module cache (kustomize, k8s.io/api)"
"${run[@]}" -e GOFLAGS=-buildvcs=false "$GO_IMAGE" sh -c \
	"go build -o /tmp/kustomize sigs.k8s.io/kustomize/kustomize/v5 && go test -count=1 -run '^\$' ./k8scheck >/dev/null"

echo "k8s-check: render, decode strictly and check policies, offline"
"${run[@]}" --network none -e GOPROXY=off -e GOFLAGS="-mod=readonly -buildvcs=false" "$GO_IMAGE" sh -c '
	go vet ./k8scheck && go test -count=1 ./k8scheck'
echo "k8s-check: ok"
