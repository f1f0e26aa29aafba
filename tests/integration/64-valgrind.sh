#!/bin/bash
# The daemon without sanitizers (the dev build: glibc, -O2) under valgrind's
# memcheck, through one whole daemon life against the real front:
#   start (adopt A, verify all nine) -> rotation A -> B (verified) ->
#   drift (dovecot back on A, nginx-only reload of B by someone else) healed ->
#   rollback (bundle C, whose reload hook fails once: C is rolled back to B,
#   verified) -> SIGTERM.
# Metrics are scraped and webhooks delivered meanwhile, so both threads run.
# First, `check` natively and under valgrind: the slowdown, and a clean check.
# valgrind must exit 0 with "ERROR SUMMARY: 0 errors" and nothing lost
# (definite, indirect and possible leaks count as errors). Suppressions, if
# any, are in tests/valgrind.supp, each with its reason.
. "$(dirname "$0")/../lib/lib.sh"
require_cmd valgrind

PORT_BASE=${PORT_BASE:-29000}
MPORT=$((PORT_BASE + 901)) WPORT=$((PORT_BASE + 911))
BIN=$MCA_ROOT/build/dev/mailu-cert-agent
[ -x "$BIN" ] || make -C "$MCA_ROOT" all >"$T/make.log" 2>&1 || fail "make all"
if ldd "$BIN" | grep -q libasan; then fail "$BIN is a sanitizer build"; fi

N=mail.example.test
certs_leaf "$T" a ec256 60 "$N"
certs_leaf "$T" b rsa 90 "$N"
certs_leaf "$T" c ec256 120 "$N"
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
fp_c=$(certs_fp "$T/c.cert.pem")
bed_start a
src_write a

# A reload step of the admin's own (AGENT_RELOAD_COMMANDS allows any), which
# fails once when /tmp/mca-fail-once exists in the front: a bundle whose
# reload fails, and a rollback whose reload succeeds.
fail_once_hook

SUPP=()
[ -s "$MCA_ROOT/tests/valgrind.supp" ] && SUPP=("--suppressions=$MCA_ROOT/tests/valgrind.supp")
VG=(valgrind --leak-check=full "--show-leak-kinds=definite,indirect,possible"
	"--errors-for-leak-kinds=definite,indirect,possible" --error-exitcode=1
	--track-fds=no --num-callers=30 "${SUPP[@]}")

# the slowdown, measured on `check` (nine probes): natively, then under valgrind
CHECK=(check "--certs-dir=$T/certs" "--hostnames=$N" "--endpoints=$ENDPOINTS" --probe-timeout=30s)
"$BIN" "${CHECK[@]}" >"$T/check-native.log" 2>&1 || fail "check (native) exit $?"
"${VG[@]}" --log-file="$T/valgrind-check.log" "$BIN" "${CHECK[@]}" >"$T/check-vg.log" 2>/dev/null ||
	fail "check under valgrind exit $? (see valgrind-check.log)"
assert_file_contains "$T/valgrind-check.log" "ERROR SUMMARY: 0 errors from 0 contexts" "valgrind summary of check"
log "check: $(jq -r 'select(.event=="check.done") | .ms' "$T/check-native.log") ms natively, $(jq -r 'select(.event=="check.done") | .ms' "$T/check-vg.log") ms under valgrind"

python3 "$MCA_TESTLIB/webhook-receiver.py" "$WPORT" "$T/hooks.jsonl" &
recv=$!
at_exit "kill $recv 2>/dev/null"
: >"$T/hooks.jsonl"

t_start=$(date +%s)
"${VG[@]}" --log-file="$T/valgrind.log" \
	"$BIN" run "--certs-dir=$T/certs" "--hostnames=$N" "--endpoints=$ENDPOINTS" \
	"--front=$FRONT" "--state-dir=$T/state" "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	"--reload-commands=nginx -t; nginx -s reload; dovecot reload; mca-hook" \
	--probe-timeout=30s --verify-timeout=180s --poll-interval=2s --drift-interval=20s \
	--settle-timeout=120s "--metrics-listen=127.0.0.1:$MPORT" \
	"--webhook-url=http://127.0.0.1:$WPORT/hook" >"$T/run.log" 2>"$T/run.err.log" &
VG_PID=$!
at_exit "kill -KILL $VG_PID 2>/dev/null"
log "valgrind pid $VG_PID"

# under valgrind everything is ~20-50x slower: generous waits, no timing asserts
wait_event run '.event=="agent.start"' 120
wait_event run "(.event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_a\")" 240 9
log "started and verified A at $(($(date +%s) - t_start))s"
curl -sf --max-time 60 "http://127.0.0.1:$MPORT/metrics" >"$T/m0.prom" || fail "scrape"

# rotation A -> B
src_write b
wait_event run '.event=="cycle.done"' 400
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "rotation outcome"
assert_all_serve "$fp_b"
log "rotated to B at $(($(date +%s) - t_start))s"

# drift: dovecot back on A, then B put back with an nginx-only reload
bed_install a
docker exec "$FRONT" dovecot reload
wait_served "$fp_a" imaps
bed_install b
docker exec "$FRONT" nginx -s reload >/dev/null 2>&1
wait_event run '.event=="drift.detected"' 400
wait_event run '.event=="drift.healed"' 400
assert_all_serve "$fp_b"
log "drift healed at $(($(date +%s) - t_start))s"

# rollback: C's reload fails (the hook), B comes back and is verified
docker exec "$FRONT" touch /tmp/mca-fail-once
src_write c
wait_event run '.event=="rollback.done"' 400
wait_event run '.event=="cycle.done" and .outcome=="rolled_back"' 120
assert_eq 1 "$(event_count run rollback.done)" "rollback.done"
assert_eq true "$(events run 'select(.event=="rollback.done") | .verified')" "rollback verified"
assert_all_serve "$fp_b"
[ "$fp_c" != "$fp_b" ] || fail "C and B are the same certificate"
log "C rolled back at $(($(date +%s) - t_start))s"
curl -sf --max-time 60 "http://127.0.0.1:$MPORT/metrics" >"$T/m1.prom" || fail "scrape"
assert_contains "$(cat "$T/m1.prom")" 'mailu_cert_agent_rotations_total{outcome="rolled_back"} 1' "metrics"
# webhooks for drift.detected and cycle.rolled_back, delivered by the worker
for _ in $(seq 1 120); do
	[ "$(wc -l <"$T/hooks.jsonl")" -ge 2 ] && break
	sleep 0.5
done
assert_eq 2 "$(wc -l <"$T/hooks.jsonl")" "webhook posts"

# SIGTERM: valgrind's exit code is the verdict on errors and leaks
kill -TERM "$VG_PID"
set +e
wait "$VG_PID"
rc=$?
set -e
secs=$(($(date +%s) - t_start))
assert_eq 1 "$(event_count run agent.stop)" "agent.stop"
sed -n '/HEAP SUMMARY/,$p' "$T/valgrind.log" | sed 's/^==[0-9]*== //' >"$T/summary.txt"
log "valgrind exit $rc after ${secs}s; $(grep -E 'total heap usage|ERROR SUMMARY' "$T/summary.txt" | paste -sd';' -)"
assert_eq 0 "$rc" "valgrind exit code (see valgrind.log)"
assert_file_contains "$T/summary.txt" "ERROR SUMMARY: 0 errors from 0 contexts" "valgrind summary"
if grep -q "All heap blocks were freed -- no leaks are possible" "$T/summary.txt"; then
	:
else
	for k in "definitely lost" "indirectly lost" "possibly lost"; do
		assert_file_contains "$T/summary.txt" "$k: 0 bytes in 0 blocks" "valgrind summary"
	done
fi
pass "${secs}s under valgrind"
