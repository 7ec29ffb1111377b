#!/usr/bin/env bash
# air's build step (.air.toml, .air.debug.toml): runs the build script it is
# given and notes what triggered the build and how long it took, for the
# reload line devtools/air-run.sh prints once the new process serves.
#
#   bash devtools/air-build.sh devtools/build-dev.sh
#
# A failed build prints one line naming the trigger and the first compiler
# error, and puts that error in an X-Dev-Build header on every response of
# the dev proxy (devtools/devproxy) until a build succeeds. air then
# restarts the last good binary, which the proxy hides like any reload.
set -uo pipefail

ms() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); }
t0=$(ms)
state=tmp/.reload stamp=tmp/.reload-stamp
mkdir -p tmp

# What triggered it: the newest file air watches, saved since the last
# build began (air does not say); none on air's first build in this
# container (marked outside the bind-mounted tree).
trigger=start saved=0
if [[ -e "$stamp" && -e /tmp/.air-built ]]; then
	read -r mtime file < <(find . \( -path ./.git -o -path ./tmp -o -path ./docs -o -path ./devtools \
		-o -path ./reports -o -path ./node_modules \) -prune -o -type f -newer "$stamp" \
		\( -name '*.go' ! -name '*_test.go' -o -name '*.sql' -o -name go.mod -o -name go.sum \) \
		-printf '%T@ %P\n' 2>/dev/null | sort -n | tail -n 1) || true
	if [[ -n "${file:-}" ]]; then
		trigger=$file
		sec=${mtime%.*} frac=${mtime#*.}000
		saved=$((sec * 1000 + 10#${frac:0:3}))
	fi
fi
touch "$stamp" /tmp/.air-built

# The dev proxy's runtime API (DEV_PROXY_ADMIN, host:port), if there is one.
proxy() {
	[[ -n "${DEV_PROXY_ADMIN:-}" ]] || return 0
	{
		exec 3<>"/dev/tcp/${DEV_PROXY_ADMIN%:*}/${DEV_PROXY_ADMIN##*:}" &&
			printf '%s\n' "$1" >&3 && timeout 1 cat <&3 >/dev/null
		exec 3<&-
	} 2>/dev/null || true
}
map=/usr/local/etc/haproxy/devbuild.map

out=$(mktemp)
trap 'rm -f "$out"' EXIT
sh "$@" >"$out" 2>&1
status=$?
cat "$out"
t1=$(ms)
took() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }

if ((status == 0)); then
	echo "$trigger $saved $((t1 - t0)) $t1" >"$state"
	proxy "del map $map build"
	exit 0
fi
first=$(grep -m1 -E '^[^[:space:]#][^:]*\.go:[0-9]+(:[0-9]+)?: ' "$out" || grep -m1 . "$out" || echo "exit status $status")
echo "reload: $trigger: build FAILED in $(took $((t1 - t0))): $first (the last good build keeps serving)"
rm -f "$state"
# The CLI splits words on spaces and commands on ';': escape both.
value="failed: ${first:0:200}"
value=${value//\\/\\\\} value=${value//;/\\;} value=${value// /\\ }
proxy "del map $map build; add map $map build $value"
exit "$status"
