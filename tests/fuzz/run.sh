#!/bin/bash
# tests/fuzz/run.sh SECONDS BINARY...: runs each libFuzzer target for
# SECONDS, one after the other (the machine is shared), over
# build/fuzz/corpus-NAME: a working copy that starts as the committed
# seeds of tests/fuzz/corpus/NAME and keeps what earlier runs found (the
# committed seeds are never written). Uses tests/fuzz/NAME.dict when there
# is one. Prints per target: executions, executions per second, corpus
# size (files), inputs added, peak RSS, the slowest input's time and the
# result; then a summary line. Exits non-zero if any target found a
# crash, a leak, a timeout or ran out of memory; the input that did it is
# kept in build/fuzz/artifacts/ (replay: build/fuzz/fuzz_NAME FILE).
set -uo pipefail
secs=${1:?usage: run.sh SECONDS BINARY...}
shift
here=$(cd "$(dirname "$0")" && pwd)
out=build/fuzz
mkdir -p "$out/artifacts"

# -max_len per target: what the agent accepts is bounded elsewhere; these
# keep each input big enough for the format and small enough to be fast.
max_len() {
	case $1 in
	acme_json) echo 262144 ;;
	metrics) echo 8192 ;;
	endpoint | proxyproto | sigreload) echo 4096 ;;
	*) echo 65536 ;;
	esac
}

failed=0 total_execs=0 n=0 t0=$(date +%s)
printf '%-12s %10s %8s %7s %6s %7s %8s  %s\n' target execs exec/s corpus new rss_mb slowest result
for bin in "$@"; do
	name=$(basename "$bin")
	name=${name#fuzz_}
	corpus=$out/corpus-$name
	log=$out/$name.log
	mkdir -p "$corpus"
	[ -d "$here/corpus/$name" ] && cp -n "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
	dict=()
	[ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
	# No leak may hide behind a libFuzzer default: say them all.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$bin" -max_total_time="$secs" -max_len="$(max_len "$name")" -timeout=10 \
	    -rss_limit_mb=1024 -detect_leaks=1 -print_final_stats=1 \
	    -artifact_prefix="$out/artifacts/$name-" "${dict[@]}" "$corpus" >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	new=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -n 1)
	rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -n 1)
	slow=$(sed -n 's/^stat::slowest_unit_time_sec: *//p' "$log" | tail -n 1)
	size=$(find "$corpus" -type f | wc -l)
	if [ $rc -eq 0 ] && [ -n "$execs" ]; then
		result=ok
	else
		failed=$((failed + 1))
		result="FAIL (exit $rc): $(grep -m1 -oE 'ERROR: [A-Za-z]+Sanitizer: [a-z -]+[a-z]|runtime error: .*|libFuzzer: [a-z -]+' "$log" || echo 'see log')"
		art=$(grep -m1 -oE "Test unit written to [^ ]+" "$log" | sed 's/Test unit written to //')
		[ -n "$art" ] && result="$result; input: $art"
		result="$result; log: $log"
	fi
	total_execs=$((total_execs + ${execs:-0}))
	n=$((n + 1))
	printf '%-12s %10s %8s %7s %6s %7s %7ss  %s\n' "$name" "${execs:--}" "${rate:--}" \
	    "$size" "${new:--}" "${rss:--}" "${slow:--}" "$result"
done
echo "fuzz: $n targets, $((n - failed)) ok, $failed failed; $total_execs executions in $(($(date +%s) - t0)) s ($secs s each)"
[ $failed -eq 0 ]
