#!/bin/bash
# Operations: drift self-heal and expiry monitoring.
# Drift: every endpoint serves B; someone reloads dovecot with A and then
# puts B back reloading nginx only -> within one drift interval the agent
# sees the seven stale dovecot ports, reloads, and all nine serve B again.
# Expiry: a pair expiring in 2 days with 21d,7d,3d -> exactly one
# expiry.warning per threshold crossed, however many checks follow.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start b
fp_b=$(certs_fp "$T/b.cert.pem")
src_write b

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--drift-interval=3s --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
assert_eq 0 "$(event_count run drift.detected)" "drift at start"

# the nginx-only reload, caused by someone else
bed_install a
docker exec "$FRONT" dovecot reload
wait_served "$(certs_fp "$T/a.cert.pem")" imaps
bed_install b
docker exec "$FRONT" nginx -s reload >/dev/null 2>&1
wait_event run '.event=="drift.detected"' 20
wait_event run '.event=="drift.healed"' 30
assert_eq 7 "$(events run 'select(.event=="drift.detected") | .stale | length' | head -1)" "stale endpoints"
assert_all_serve "$fp_b"
agent_run health healthcheck "--state-dir=$T/state"
assert_eq 0 "$AGENT_RC" "healthy after healing"
agent_stop "$AGENT_PID" run

# expiry: 2 days left
certs_leaf "$T" soon ec256 2 mail.example.test
src_write soon
# shellcheck disable=SC2046
agent_bg exp run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" \
	--drift-interval=1s --poll-interval=1s --force
wait_event exp '.event=="cycle.done" and .outcome=="rotated"' 60
sleep 4		# several drift checks
assert_eq '"21d" "7d" "3d"' "$(events exp 'select(.event=="expiry.warning") | .threshold' | paste -sd' ' -)" "warnings"
# shellcheck disable=SC2046
agent_run check check $(bed_env)
assert_eq 1 "$AGENT_RC" "check exit code, 2 days left"
agent_stop "$AGENT_PID" exp
pass
