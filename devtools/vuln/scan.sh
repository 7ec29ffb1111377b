#!/bin/sh
# The scan behind make vuln, in the vuln image with no network: govulncheck on
# the source (./... of the service, the tooling module and the proving ground's) and on the
# release binary (/release/api) against the database built into the image. Fails on any vulnerability the code reaches,
# printing its id and call path.
set -eu
db=${VULNDB:-/vulndb}
bin=${1:-/release/api}

# A database that lost its entries would pass anything: refuse it.
entries=$(ls "$db/ID" | grep -c '\.json$' || true)
[ "$entries" -ge 1000 ] || { echo "vuln: $db holds only $entries entries"; exit 1; }
grep -q '"path":"stdlib"' "$db/index/modules.json" || { echo "vuln: no stdlib entries in $db"; exit 1; }
echo "vuln: database from $(cat "$db/SOURCE"), $entries entries; $(govulncheck -version | grep -i 'scanner:' || true)"

status=0
echo
echo "==== source: ./... ($(go version)) ===="
govulncheck -db "file://$db" -show traces ./... || status=1
echo
echo "==== source: devtools/... (the developer tools' module) ===="
govulncheck -C devtools -db "file://$db" -show traces ./... || status=1
if [ -f proving/go.mod ]; then
	echo
	echo "==== source: proving/... (the proving ground's module) ===="
	govulncheck -C proving -db "file://$db" -show traces ./... || status=1
fi
echo
echo "==== binary: $bin ===="
govulncheck -db "file://$db" -mode binary -show traces "$bin" || status=1
echo
if [ "$status" -eq 0 ]; then
	echo "vuln: ok, no reachable vulnerability in the source or the release binary"
else
	echo "vuln: FAIL: the vulnerabilities above are reachable (ids and call paths)"
fi
exit "$status"
