# Sourced by make test-reload and make bench-proxy: vegeta (the load tool
# proving/load uses, at the same version) in the dev stack's compose
# network, run as the dev image with the Go caches; built once into the
# cache volume.
#
#   vegeta [docker run options] -- attack|report ...
vegeta_bin=/cache/bin/vegeta-v12.13.0/vegeta
vegeta() {
	local opts=()
	while (($#)) && [[ "$1" != -- ]]; do opts+=("$1"); shift; done
	shift
	local uid=${HOST_UID:-$(id -u)} gid=${HOST_GID:-$(id -g)}
	docker run --network "${PROJECT}_default" --user "$uid:$gid" \
		-v "$PWD:/src" -v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
		-w /src "${opts[@]}" "$DEV_IMAGE" sh -c \
		"test -x $vegeta_bin || GOBIN=${vegeta_bin%/*} go install github.com/tsenart/vegeta/v12@v12.13.0 && exec $vegeta_bin \"\$@\"" \
		vegeta "$@"
}
