#!/bin/sh
# The one swag invocation, shared by make docs, the drift check and air.
# OUT overrides the output folder (the drift check writes elsewhere).
set -eu
# go.mod's swag, not one installed on PATH: the dev image's copy is built
# when the image is, and a go.mod change since (go-openapi/spec, say)
# changes what swag writes. go tool caches the build.
swag="go tool swag"
out="${OUT:-docs}"

# Every operation can answer these, whatever its handler does: the server and
# the middleware give them before or around any handler. One with
# `@Security APIKey` alone (a key is required) can also answer 401, which
# requireUser gives. They are written here once: a handler annotates only
# its own statuses, and one that annotates one of these keeps its own text.
# swag reads a copy of the package where each annotation block with a
# @Router (all the block's routes share it) ends with the missing lines.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
for f in app/httpapi/*.go; do
	case $f in *_test.go) continue ;; esac
	perl -ne '
		BEGIN {
			%common = (
				400 => "Malformed request",
				408 => "Body not received in time (HTTP_READ_TIMEOUT)",
				413 => "Body over its limit (on any method)",
				431 => "Request line and headers too large",
				503 => "Database unavailable, overloaded, timed out or shutting down",
			);
		}
		if (m{^//}) { push @block, $_; next }
		if (grep { m{^//\s*\@Router\b} } @block) {
			my %add = %common;
			my @security = map { m{^//\s*\@Security\s+(\S+)} ? $1 : () } @block;
			$add{401} = "Missing, unknown or expired API key" if "@security" eq "APIKey";
			my %seen = map { m{^//\s*\@(?:Success|Failure)\s+(\d+)} ? ($1 => 1) : () } @block;
			push @block, "//\t\@Failure\t$_\t{object}\tproblem\t\"$add{$_}\"\n" for grep { !$seen{$_} } sort keys %add;
		}
		print @block, $_;
		@block = ();
		END { print @block }
	' "$f" >"$src/${f##*/}"
done
$swag init --quiet --dir "$src" --generalInfo api.go --parseInternal \
	--outputTypes go,json,yaml --output "$out"

# Optional security is an empty requirement, [{}, {"APIKey": []}], which swag
# cannot write. Handlers write `@Security Anonymous` for it (a scheme that is
# never declared); this turns it into {} in all three outputs, exactly as
# swag would print an empty requirement.
perl -0pi -e 's/\{\s*"Anonymous": \[\]\s*\}/{}/g' "$out/swagger.json" "$out/docs.go"
perl -pi -e 's/^(\s*)- Anonymous: \[\]$/$1- {}/' "$out/swagger.yaml"
if grep -n 'Anonymous' "$out/swagger.json" "$out/docs.go" "$out/swagger.yaml"; then
	echo "swag.sh: an Anonymous security requirement was left unconverted" >&2
	exit 1
fi
