#!/usr/bin/env bash
# make memory-check: the release image, in a container limited to
# MEMORY_LIMIT (256m, the prod pod's limit), under 16 concurrent 20 MiB
# multipart uploads, then 200 concurrent slow 1 MiB uploads
# (proving/slowupload), while other clients keep making ordinary requests;
# then under IDLE_CONNS (20000) idle keep-alive connections and
# SLOWLORIS_CONNS (10000) slowloris connections (proving/connflood) from
# client containers on the test network, 10,000 connections each (a
# process here may open 20,000 files), while another client, on the host,
# keeps making ordinary requests.
# Prints the API's resident memory and fails when the multipart uploads grow
# its peak by more than MULTIPART_LIMIT_MIB (64), when the uploads' peak
# reaches LIMIT_MIB (150), when a flood's peak reaches FLOOD_LIMIT_MIB
# (192, three quarters of the limit), when the kernel OOM-kills the API,
# when a multipart upload is not refused with 413 or 415, or when an
# ordinary request fails. Traffic stays on loopback and the test network;
# everything is removed at the end, pass or fail.
#
#   UPLOADS=200 OVER=3s LIMIT_MIB=150 MULTIPART_LIMIT_MIB=64 \
#   IDLE_CONNS=20000 SLOWLORIS_CONNS=10000 HOLD=20s FLOOD_LIMIT_MIB=192 make memory-check
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT_MIB=${LIMIT_MIB:-150}
MULTIPART_LIMIT_MIB=${MULTIPART_LIMIT_MIB:-64}
MEMORY_LIMIT=${MEMORY_LIMIT:-256m}
FLOOD_LIMIT_MIB=${FLOOD_LIMIT_MIB:-192}
run_id=memcheck-$$-$RANDOM
net=$PROJECT-$run_id db=$PROJECT-$run_id-db api=$PROJECT-$run_id-api
password=$(head -c 18 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')
dsn="postgres://mem:$password@$db:5432/mem?sslmode=disable"

sampler=
cleanup() {
	[[ -z "$sampler" ]] || kill "$sampler" 2>/dev/null || true
	docker rm -f "$api" "$db" >/dev/null 2>&1 || true
	docker network rm "$net" >/dev/null 2>&1 || true
	rm -f "/tmp/$run_id.peak" "/tmp/$run_id.stop" "/tmp/$run_id.ordinary"
}
trap cleanup EXIT
fail() { echo "memory-check: FAIL: $*" >&2; docker logs --tail 20 "$api" 2>&1 | sed 's/^/  api| /' >&2 || true; exit 1; }
wait_for() { # seconds, description, command...
	local until=$((SECONDS + $1)) what=$2; shift 2
	until "$@" >/dev/null 2>&1; do
		((SECONDS < until)) || fail "timed out waiting for $what"
		sleep 0.2
	done
}

docker network create "$net" >/dev/null
docker run -d --name "$db" --network "$net" \
	-e POSTGRES_USER=mem -e POSTGRES_PASSWORD="$password" -e POSTGRES_DB=mem postgres:17 >/dev/null
# Over TCP: while initdb runs, the entrypoint's temporary server answers on
# the socket only, and the API connects over TCP.
wait_for 60 "PostgreSQL" docker exec "$db" pg_isready -h 127.0.0.1 -U mem -d mem
docker run --rm --network "$net" -e DATABASE_URL="$dsn" "$IMAGE" migrate up >/dev/null
# The ordinary requests come from one client: no rate limits. The memory
# limit is the prod pod's; the service sets GOMEMLIMIT from it.
docker run -d --name "$api" --network "$net" -e DATABASE_URL="$dsn" -e LOG_LEVEL=error \
	-e RATE_LIMIT_SIGNUPS=0 -e RATE_LIMIT_ANONYMOUS_WRITES=0 -e RATE_LIMIT_KEYED_WRITES=0 \
	--memory "$MEMORY_LIMIT" --memory-swap "$MEMORY_LIMIT" \
	-p 127.0.0.1::5000 "$IMAGE" >/dev/null
port=$(docker port "$api" 5000/tcp | head -n 1 | sed 's/.*://')
wait_for 30 "/readyz" curl -fsS "http://127.0.0.1:$port/readyz"

# Peak resident memory: the kernel's high-water mark (VmHWM) when this host
# sees the container's process, else the highest of docker stats samples.
pid=$(docker inspect -f '{{.State.Pid}}' "$api")
rss_kib() { awk "/^$1:/ {print \$2}" "/proc/$pid/status" 2>/dev/null; }
stats_mib() {
	local m
	m=$(docker stats --no-stream --format '{{.MemUsage}}' "$api" | awk '{print $1}')
	awk -v m="$m" 'BEGIN { v = m + 0; if (m ~ /GiB/) v *= 1024; else if (m ~ /KiB/) v /= 1024; printf "%d", v }'
}
if [[ -n "$(rss_kib VmHWM)" ]]; then
	base_mib=$(( $(rss_kib VmRSS) / 1024 ))
	peak() { echo $(( $(rss_kib VmHWM) / 1024 )); }
	# Writing 5 to clear_refs starts the high-water mark again from now.
	reset_peak() { echo 5 >"/proc/$pid/clear_refs"; }
else
	base_mib=$(stats_mib)
	echo 0 >"/tmp/$run_id.peak"
	(
		while :; do
			mib=$(stats_mib)
			(( mib > $(cat "/tmp/$run_id.peak") )) && echo "$mib" >"/tmp/$run_id.peak"
		done
	) &
	sampler=$!
	peak() { cat "/tmp/$run_id.peak"; }
	reset_peak() { echo 0 >"/tmp/$run_id.peak"; }
fi

echo "memory-check: API resident memory before the load: $base_mib MiB"
# In the dev image, like every make target: the host needs no Go.
uid=${HOST_UID:-$(id -u)}
slowupload() {
	docker run --rm --network host -u "$uid:${HOST_GID:-$(id -g)}" -v "$PWD:/src" -w /src \
		-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
		"$DEV_IMAGE" go -C proving run ./slowupload -url "http://127.0.0.1:$port" "$@"
}

# Multipart first: its growth is measured from the resting baseline.
status=0
slowupload -multipart -uploads 16 -size $((20 << 20)) -over 1s || status=$?
growth_mib=$(( $(peak) - base_mib ))
echo "memory-check: 16 concurrent 20 MiB multipart uploads grew peak resident memory by $growth_mib MiB (limit $MULTIPART_LIMIT_MIB MiB)"
((status == 0)) || fail "a multipart upload was not refused, or ordinary requests failed meanwhile"
((growth_mib <= MULTIPART_LIMIT_MIB)) || fail "multipart uploads grew peak resident memory by $growth_mib MiB, over $MULTIPART_LIMIT_MIB MiB"

slowupload -uploads "${UPLOADS:-200}" -size $((1 << 20)) -over "${OVER:-3s}" || status=$?
peak_mib=$(peak)
echo "memory-check: API peak resident memory: $peak_mib MiB (limit $LIMIT_MIB MiB)"
((status == 0)) || fail "ordinary requests failed during the uploads"
((peak_mib < LIMIT_MIB)) || fail "peak resident memory $peak_mib MiB is not below $LIMIT_MIB MiB"

# The connection floods come from containers on the test network, at most
# 10,000 connections each (each container's open-file limit is Docker's,
# printed by connflood); the ordinary requests from the host, through the
# published port: another address, as another client would be.
echo "memory-check: open files allowed to the API: $(awk '/open files/ {print $4}' "/proc/$pid/limits" 2>/dev/null || echo '?')"
per_client=10000
connflood() { # mode connections
	docker run --rm --network "$net" -u "$uid:${HOST_GID:-$(id -g)}" -v "$PWD:/src" -w /src \
		-v "$GOMOD_VOLUME:/go/pkg/mod" -v "$GOCACHE_VOLUME:/cache" \
		"$DEV_IMAGE" go -C proving run ./connflood -addr "$api:5000" -hold "${HOLD:-20s}" -mode "$1" -conns "$2"
}
ordinary() {
	local ok=0 failed=0
	while [[ ! -e "/tmp/$run_id.stop" ]]; do
		if curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$port/tweets?limit=5"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi
		sleep 0.1
	done
	echo "$ok $failed" >"/tmp/$run_id.ordinary"
}
flood() { # mode connections
	rm -f "/tmp/$run_id.stop" "/tmp/$run_id.ordinary"
	reset_peak
	ordinary &
	local client=$! status=0 left=$2 floods=()
	while ((left > 0)); do
		connflood "$1" $((left < per_client ? left : per_client)) &
		floods+=($!)
		left=$((left - per_client))
	done
	for f in "${floods[@]}"; do wait "$f" || status=$?; done
	touch "/tmp/$run_id.stop"
	wait "$client"
	local ok failed flood_mib oom
	read -r ok failed <"/tmp/$run_id.ordinary"
	flood_mib=$(peak)
	oom=$(docker inspect -f '{{.State.OOMKilled}} {{.State.Running}}' "$api")
	echo "memory-check: $2 $1 connections: API peak resident memory $flood_mib MiB (limit $FLOOD_LIMIT_MIB MiB of $MEMORY_LIMIT); OOM-killed, running: $oom; ordinary requests from another client meanwhile: $ok answered, $failed failed"
	((status == 0)) || fail "connflood could not run"
	[[ "$oom" == "false true" ]] || fail "the API was OOM-killed or stopped during the $1 flood"
	((failed == 0 && ok > 0)) || fail "ordinary requests failed during the $1 flood"
	((flood_mib < FLOOD_LIMIT_MIB)) || fail "the $1 flood's peak resident memory $flood_mib MiB is not below $FLOOD_LIMIT_MIB MiB"
}
flood idle "${IDLE_CONNS:-20000}"
flood slowloris "${SLOWLORIS_CONNS:-10000}"
echo "memory-check: PASS"
