#!/usr/bin/env bash
# make test-snapshot: on the running dev stack, writes a tweet, takes a
# snapshot, writes another, restores the snapshot while the API keeps
# running, and lists the tweets over HTTP: the first is there, the second is
# gone, and the API process is the same one (no restart). Removes its
# snapshot; the dev data is left as the snapshot had it.
set -euo pipefail
cd "$(dirname "$0")/.."

base=http://127.0.0.1:${API_PORT:-5000}
run=$RANDOM$RANDOM
name=check_$run
kept="kept by the snapshot $run" lost="written after the snapshot $run"
fail() { echo "test-snapshot: FAIL: $*" >&2; exit 1; }
snapshot() { bash devtools/db-snapshot.sh "$@"; }
trap 'snapshot drop "$name" >/dev/null 2>&1 || true' EXIT

started_at() { curl -fsS "$base/healthz" | grep -o '"started_at":"[^"]*"'; }
tweet() { curl -fsS -o /dev/null -H 'Content-Type: application/json' -d "{\"text\":\"$1\"}" "$base/tweets"; }
tweets() { curl -fsS "$base/tweets?limit=200"; }

before=$(started_at)
tweet "$kept"
snapshot snapshot "$name"
tweet "$lost"
tweets | grep -q "$lost" || fail "the tweet written after the snapshot is not listed"

snapshot restore "$name"
# The API's pool reconnects on its own; /readyz says when it has.
for _ in $(seq 100); do
	[[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz")" == 200 ]] && break
	sleep 0.1
done
list=$(tweets) || fail "GET /tweets failed after the restore"
grep -q "$kept" <<<"$list" || fail "the snapshot's tweet is not listed after the restore"
! grep -q "$lost" <<<"$list" || fail "the tweet written after the snapshot is still listed after the restore"
[[ "$(started_at)" == "$before" ]] || fail "the API restarted ($before, now $(started_at))"
snapshot list | grep -q "$name" || fail "make db-snapshots does not list the snapshot"
echo "test-snapshot: ok: restored under the running API (same process); GET /tweets lists the snapshot's tweet, not the later one"
