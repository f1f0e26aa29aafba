#!/bin/bash
# ACME clients write cert and key one after the other. A pair written
# non-atomically (cert first, key 2 s later) is not rejected: one
# rotation after the key lands. A pair that keeps changing past
# AGENT_SETTLE_TIMEOUT is rejected as incomplete_write.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--poll-interval=1s --settle-timeout=10s
wait_event run '.event=="agent.start"' 30
cat "$T/b.cert.pem" >"$T/src/cert.pem"
sleep 2
cat "$T/b.key.pem" >"$T/src/key.pem"
wait_event run '.event=="cycle.done"' 60
assert_eq 0 "$(event_count run cert.rejected)" "rejections"
assert_eq 1 "$(event_count run cycle.done)" "cycles"
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_all_serve "$fp_b"
agent_stop "$AGENT_PID" run

# a writer that never stops
# shellcheck disable=SC2046
agent_bg run2 run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--poll-interval=1s --settle-timeout=2s
wait_event run2 '.event=="agent.start"' 30
for i in $(seq 1 40); do echo "# $i" >>"$T/src/cert.pem"; sleep 0.1; done &
writer=$!
wait_event run2 '.event=="cert.rejected"' 30
assert_eq '"incomplete_write"' "$(events run2 'select(.event=="cert.rejected") | .reason' | head -1)" "reason"
wait "$writer"
agent_stop "$AGENT_PID" run2
pass
