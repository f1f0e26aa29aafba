#!/bin/bash
# Runs every tests/integration/NN-*.sh against one engine and the front
# images: the engine is started (or reused) and the images built once here,
# then each test runs in its own shell and temp dir. Exit 77 = skipped.
# Usage: tests/run-integration.sh [NN-name.sh ...]
#
# Two fronts (tests/lib/front.sh, FRONT_KIND): the lookalike (default) and
# the one shaped like Mailu's real front (docker/front-mailu). A run of every
# test (no arguments, FRONT_KIND unset) runs them all on the lookalike, then
# the core ones ($MCA_MAILU_TESTS: rotation, the nginx-only reload bug,
# rollback, drift heal, the crash matrix, zero downtime) a second time on
# the Mailu-shaped front with its certificate watcher off
# (FRONT_CERT_WATCHER=0), so they prove the agent's own reload; those report
# as NN-name@mailu. Entries NN-name+watcher run with the watcher on (Mailu's
# default in the cert flavor: the front reloads itself beside the agent) and
# report as NN-name@mailu+watcher. MCA_MAILU_PASS=0 leaves that pass out, 1 adds it to a run
# of named tests. FRONT_KIND=mailu runs the named tests (or all) on the
# Mailu-shaped front only:
#   FRONT_KIND=mailu tests/run-integration.sh 10-rotate-pair.sh
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
export FRONT_IMAGE FRONT_MAILU_IMAGE DOCKER_HOST

# an entry ending in "+watcher" runs with Mailu's own certificate watcher on
# in the front (FRONT_CERT_WATCHER=1): the agent and the front both reload
MCA_MAILU_TESTS=${MCA_MAILU_TESTS:-02-nginx-only-reload 10-rotate-pair 11-rotate-certs-dir 12-nginx-only-reload-guarded 15-crash 40-drift-expiry 61-zero-downtime 69-reload-fallback 73-reload-sessions 10-rotate-pair+watcher 61-zero-downtime+watcher}
if [ $# -gt 0 ]; then
	tests=("$@")
	mailu_pass=${MCA_MAILU_PASS:-0}
else
	tests=("$here"/integration/[0-9][0-9]-*.sh)
	mailu_pass=${MCA_MAILU_PASS:-1}
fi
# each run: "KIND PATH"
runs=()
if [ -n "${FRONT_KIND:-}" ]; then
	case $FRONT_KIND in lookalike | mailu) ;; *) echo "FRONT_KIND=$FRONT_KIND: lookalike or mailu" >&2; exit 2 ;; esac
	for t in "${tests[@]}"; do runs+=("$FRONT_KIND $t"); done
else
	for t in "${tests[@]}"; do runs+=("lookalike $t"); done
	if [ "$mailu_pass" = 1 ]; then
		for t in $MCA_MAILU_TESTS; do
			case $t in
			*+watcher) runs+=("mailu+watcher ${t%+watcher}") ;;
			*) runs+=("mailu $t") ;;
			esac
		done
	fi
fi

# each failed test adds a line saying why (tests/lib/lib.sh), repeated at
# the end where a cut log still shows it
MCA_FAIL_NOTES=$(mktemp)
export MCA_FAIL_NOTES
trap 'rm -f "$MCA_FAIL_NOTES"; engine_down' EXIT

passed=0 failed=0 skipped=0 failed_names=() mailu_secs=0 mailu_runs=0
for run in "${runs[@]}"; do
	kind=${run%% *} t=${run#* }
	t=${t%.sh}.sh
	[ -f "$t" ] || t="$here/integration/$t"
	name=$(basename "$t" .sh)
	shown=$name test_name=$name
	# a container name cannot hold "@" or "+"
	case $kind in
	mailu) shown=$name@mailu test_name=$name-mailu ;;
	mailu+watcher) shown=$name@mailu+watcher test_name=$name-mailu-watcher ;;
	esac
	start=$(date +%s)
	set +e
	case $kind in
	mailu) TEST_NAME=$test_name FRONT_KIND=mailu FRONT_CERT_WATCHER=${FRONT_CERT_WATCHER-0} bash "$t" ;;
	mailu+watcher) TEST_NAME=$test_name FRONT_KIND=mailu FRONT_CERT_WATCHER=1 bash "$t" ;;
	*) TEST_NAME=$test_name FRONT_KIND=lookalike bash "$t" ;;
	esac
	rc=$?
	set -e
	secs=$(( $(date +%s) - start ))
	if [ "$kind" != lookalike ]; then
		mailu_secs=$((mailu_secs + secs)) mailu_runs=$((mailu_runs + 1))
	fi
	case $rc in
	0) passed=$((passed + 1)); echo "ok   $shown (${secs}s)" ;;
	77) skipped=$((skipped + 1)); echo "skip $shown" ;;
	*) failed=$((failed + 1)); failed_names+=("$shown"); echo "FAIL $shown (exit $rc, ${secs}s)" ;;
	esac
done
if [ $failed -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
	sed 's/^/  /' "$MCA_FAIL_NOTES"
fi
[ $mailu_runs = 0 ] || echo "on the Mailu-shaped front: $mailu_runs runs in ${mailu_secs}s"
echo "integration: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
