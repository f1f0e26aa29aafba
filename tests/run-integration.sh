#!/bin/bash
# Runs every tests/integration/NN-*.sh against one engine and one front
# image: the engine is started (or reused) and the image built once here,
# then each test runs in its own shell and temp dir. Exit 77 = skipped.
# Usage: tests/run-integration.sh [NN-name.sh ...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export MCA_AGENT=${MCA_AGENT:-$root/build/asan/mailu-cert-agent}
# LeakSanitizer: a leak fails the agent run, and so the test
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

. "$here/lib/engine.sh"
. "$here/lib/front-image.sh"

[ -x "$MCA_AGENT" ] || { echo "no agent binary at $MCA_AGENT" >&2; exit 1; }

engine_up
trap engine_down EXIT
# One run at a time per engine: tests name their containers and ports
# after themselves, and a front is found by its label, so two runs on one
# engine would see (and remove) each other's containers.
mkdir -p "$MCA_ENGINE_DIR"
exec {_mca_it_lock}>>"$MCA_ENGINE_DIR/integration.lock"
flock -w 7200 "$_mca_it_lock" || { echo "another integration run holds the engine" >&2; exit 1; }
front_image_ensure
export FRONT_IMAGE DOCKER_HOST

if [ $# -gt 0 ]; then
	tests=("$@")
else
	tests=("$here"/integration/[0-9][0-9]-*.sh)
fi

# each failed test adds a line saying why (tests/lib/lib.sh), repeated at
# the end where a cut log still shows it
MCA_FAIL_NOTES=$(mktemp)
export MCA_FAIL_NOTES
trap 'rm -f "$MCA_FAIL_NOTES"; engine_down' EXIT

passed=0 failed=0 skipped=0 failed_names=()
for t in "${tests[@]}"; do
	[ -f "$t" ] || t="$here/integration/$t"
	name=$(basename "$t" .sh)
	start=$(date +%s)
	set +e
	TEST_NAME=$name bash "$t"
	rc=$?
	set -e
	secs=$(( $(date +%s) - start ))
	case $rc in
	0) passed=$((passed + 1)); echo "ok   $name (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "skip $name" ;;
	*) failed=$((failed + 1)); failed_names+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)" ;;
	esac
done
if [ $failed -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
	sed 's/^/  /' "$MCA_FAIL_NOTES"
fi
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
