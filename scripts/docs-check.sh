#!/bin/bash
# scripts/docs-check.sh [--update] BINARY: docs/reference.md's Settings,
# between <!-- settings:begin --> and <!-- settings:end -->, must be what
# `BINARY settings-reference` prints. It exists so that --help and the
# docs cannot drift: both are printed from the one table of
# agent/config_table.c, and this fails (`make docs-check`, part of `make
# test`) when the committed text is not what the binary prints.
# --update (`make docs`) writes the binary's text between the markers.
set -euo pipefail
update=false
if [ "${1:-}" = --update ]; then
	update=true
	shift
fi
bin=${1:?usage: docs-check.sh [--update] BINARY}
root=$(cd "$(dirname "$0")/.." && pwd)
doc=docs/reference.md
begin='<!-- settings:begin -->'
end='<!-- settings:end -->'

# env -i: the reference never depends on settings, and a stray AGENT_*
# in the caller's environment would make config_load refuse to start
want=$(env -i "$bin" settings-reference)
cd "$root"
[ "$(grep -cxF "$begin" "$doc")" = 1 ] && [ "$(grep -cxF "$end" "$doc")" = 1 ] || {
	echo "docs-check: $doc needs one '$begin' line and one '$end' line" >&2
	exit 1
}
have=$(awk -v b="$begin" -v e="$end" '$0 == e { on = 0 } on { print } $0 == b { on = 1 }' "$doc")
if [ "$have" = "$want" ]; then
	echo "docs-check: $doc's settings are what $bin prints"
	exit 0
fi
if $update; then
	tmp=$(mktemp "$doc.XXXXXX")
	printf '%s\n' "$want" >"$tmp.new"
	awk -v b="$begin" -v e="$end" -v f="$tmp.new" '
		$0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$doc" >"$tmp"
	rm -f "$tmp.new"
	mv "$tmp" "$doc"
	echo "docs-check: wrote $bin's settings into $doc"
	exit 0
fi
echo "docs-check: $doc's settings differ from what $bin prints (make docs rewrites them):" >&2
diff -u --label "$doc" --label "$bin settings-reference" <(printf '%s\n' "$have") \
    <(printf '%s\n' "$want") >&2 || true
exit 1
