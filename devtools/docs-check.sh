#!/bin/sh
# make docs-check: regenerate the OpenAPI docs aside and compare them with
# the committed ones, so annotations and docs/ cannot drift apart; then
# check the README's length and every link of the Markdown pages, in the
# template and in the lean form a rename leaves.
set -eu
out=tmp/docs-check/docs
rm -rf "$out"
OUT="$out" sh devtools/swag.sh
status=0
for f in docs.go swagger.json swagger.yaml; do
	diff -u "docs/$f" "$out/$f" || status=1
done
[ "$status" -eq 0 ] || echo "docs/ is stale: run make docs and commit the result" >&2
# The README is the front door and links one docs/ page a topic: at most
# 200 lines, and no link to a page or heading that is not there.
lines=$(wc -l <README.md)
if [ "$lines" -gt 200 ]; then
	echo "docs-check: README.md has $lines lines, over 200: move the detail into a docs/ page" >&2
	status=1
fi
# The README's targets table lists the Makefile's DAILY targets, in order.
daily=$(sed -n 's/^DAILY := //p' Makefile)
table=$(sed -n '/^## Everyday targets/,/^## [^E]/p' README.md | grep '^| `make' | cut -d'|' -f2 | grep -o '`make [a-z0-9-]*' | cut -c7- | tr '\n' ' ')
if [ "$table" != "$daily " ]; then
	echo "docs-check: README.md's targets table lists: $table; the Makefile's DAILY: $daily" >&2
	status=1
fi
perl devtools/docs-links.pl README.md docs/*.md $(ls proving/*.md 2>/dev/null) ||
	{ echo "docs-check: the links above are broken" >&2; status=1; }
# The lean form, what make rename leaves by default: no proving/, and
# README.md, docs/*.md and .env.example without the passages between
# <!-- proving --> and <!-- /proving --> lines. What remains must name no
# proving file or target, and link only to what the lean tree has.
lean=tmp/docs-check/lean
rm -rf "$lean" && mkdir -p "$lean/docs"
for p in * .[!.]*; do
	case $p in docs | proving | tmp | README.md | .env.example) ;; *) ln -s "../../../$p" "$lean/$p" ;; esac
done
for p in docs/*; do case $p in *.md) ;; *) ln -s "../../../../$p" "$lean/$p" ;; esac; done
for f in README.md docs/*.md .env.example; do
	perl -0p devtools/lean.pl "$f" >"$lean/$f"
done
targets='floor-check|test-reload|test-debug|memory-check|replicas-test|stacks-apart|rename-check|bench-[a-z]+'
if (cd "$lean" && grep -nE "proving/|^(# )?<!-- /?proving -->|\b($targets)\b|make (bench|rename)\b" README.md docs/*.md .env.example); then
	echo "docs-check: the lines above name the proving ground outside <!-- proving --> fences (or a fence is unmatched)" >&2
	status=1
fi
(cd "$lean" && perl devtools/docs-links.pl README.md docs/*.md) ||
	{ echo "docs-check: the links above are broken in the lean form (make rename without KEEP_PROVING)" >&2; status=1; }
[ "$status" -ne 0 ] || echo "docs-check: docs/ matches the annotations; README.md $lines lines, every link resolves, the lean form too"
exit "$status"
