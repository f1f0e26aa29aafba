#!/bin/bash
# Runs every unit test program and adds up their "N passed, N failed" lines.
set -uo pipefail
passed=0 failed=0 broken=0
for t in "$@"; do
	out=$("$t")
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | tail -n 1)
	if [[ $line =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
		passed=$((passed + BASH_REMATCH[1]))
		failed=$((failed + BASH_REMATCH[2]))
	fi
	# a crash or sanitizer abort counts even when no line was printed
	[ $rc -eq 0 ] || { broken=$((broken + 1)); echo "FAIL: $t exited $rc"; }
done
[ $broken -eq 0 ] || failed=$((failed + broken))
echo "unit: $passed passed, $failed failed"
[ $failed -eq 0 ]
