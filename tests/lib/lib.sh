# shellcheck shell=bash
# tests/lib/lib.sh — sourced first by every integration test.
#
# Sourcing it: sets -euo pipefail, sources engine.sh, front-image.sh, front.sh
# and certs.sh, makes the per-test temp dir $T and an EXIT trap that
#   - runs the at_exit hooks, last registered first (e.g. front_stop, engine_down),
#   - on success or skip removes $T,
#   - on failure keeps $T and prints the tail of every *.log in it, then
#     why it failed: fail's message, or the command set -e stopped at (with
#     its file, line and status); the same line goes to $MCA_FAIL_NOTES
#     when the runner sets it, so the suite's summary can repeat it.
#
#   at_exit CMD...       register a cleanup command (run once, at exit)
#   log MSG              timestamped progress line on stderr
#   pass [MSG]           PASS line, exit 0
#   fail MSG             FAIL line, exit 1
#   skip MSG             SKIP line, exit 77
#   assert_eq EXPECTED ACTUAL [WHAT]
#   assert_ne UNEXPECTED ACTUAL [WHAT]
#   assert_contains HAYSTACK NEEDLE [WHAT]
#   assert_file_contains FILE NEEDLE [WHAT]   (fixed string; binary-safe)
#   require_root         skip unless uid 0
#   require_cmd CMD...   skip unless every CMD is in PATH
#
# Variables: MCA_TESTLIB (this dir), MCA_ROOT (repo root), TEST_NAME, T.

set -Eeuo pipefail

MCA_TESTLIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MCA_ROOT=$(cd "$MCA_TESTLIB/../.." && pwd)
export MCA_TESTLIB MCA_ROOT
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}

. "$MCA_TESTLIB/engine.sh"
. "$MCA_TESTLIB/front-image.sh"
. "$MCA_TESTLIB/front.sh"
. "$MCA_TESTLIB/certs.sh"
. "$MCA_TESTLIB/agent.sh"

T=$(mktemp -d "${TMPDIR:-/tmp}/mca-$TEST_NAME.XXXXXX")
export T

_lib_hooks=()
at_exit() { _lib_hooks+=("$*"); }

# the last command that failed (-E: in functions too); with set -e, the
# one that ended the test
_lib_why=
trap '_lib_why="${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND (status $?)"' ERR

_lib_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_lib_hooks[@]} - 1; i >= 0; i--)); do
		eval "${_lib_hooks[i]}"
	done
	if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then
		rm -rf "$T"
	else
		local f
		printf '\n--- %s failed (exit %s); kept %s\n' "$TEST_NAME" "$rc" "$T" >&2
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			printf -- '--- tail of %s\n' "$f" >&2
			tail -n 40 "$f" >&2
		done
		printf -- '--- %s failed (exit %s): %s\n' "$TEST_NAME" "$rc" "${_lib_why:-no failed command seen}" >&2
		[ -z "${MCA_FAIL_NOTES:-}" ] ||
			printf '%s (exit %s): %s\n' "$TEST_NAME" "$rc" "${_lib_why:-no failed command seen}" >>"$MCA_FAIL_NOTES"
	fi
	exit "$rc"
}
trap _lib_exit EXIT
# A signal should go through the same cleanup, with a failing status.
trap 'exit 130' INT
trap 'exit 143' TERM

log() { printf '[%s] %s: %s\n' "$(date +%H:%M:%S)" "$TEST_NAME" "$*" >&2; }
pass() { printf 'PASS: %s%s\n' "$TEST_NAME" "${1:+: $1}"; exit 0; }
fail() { _lib_why=$*; printf 'FAIL: %s: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
skip() { printf 'SKIP: %s: %s\n' "$TEST_NAME" "$*"; exit 77; }

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: expected '$1', got '$2'"
}
assert_ne() {
	[ "$1" != "$2" ] || fail "${3:-value}: did not expect '$1'"
}
assert_contains() {
	case $1 in
	*"$2"*) ;;
	*) fail "${3:-text} does not contain '$2': $(printf '%s' "$1" | head -c 400)" ;;
	esac
}

assert_file_contains() {
	grep -aqF -- "$2" "$1" 2>/dev/null || fail "${3:-$1} does not contain '$2'"
}

require_root() { [ "$(id -u)" = 0 ] || skip "needs root"; }
require_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip "needs $c"; done
}
