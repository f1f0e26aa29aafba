#!/bin/bash
# The state dir deleted (rm -rf) while the daemon runs: at the next poll
# the daemon makes it again (0700) with a new lock, its last-known-good
# copy and status file (state.recreated), healthcheck agrees, the next
# rotation backs up and installs as usual, and a second agent is still
# kept out by the new lock.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a
state=$T/certs/.mailu-cert-agent   # the default: inside CERTS_DIR

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--state-dir=$state" \
	"--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="state.adopted"' 5
[ -f "$state/status.json" ] || fail "no status file after start"
# shellcheck disable=SC2046
agent_run hc0 healthcheck $(rotate_env) "--state-dir=$state"
assert_eq 0 "$AGENT_RC" "healthcheck before"

rm -rf "$state"
log "state dir deleted"
wait_event run '.event=="state.recreated"' 15
assert_eq "\"$fp_a\"" "$(events run 'select(.event=="state.recreated") | .fingerprint')" "recreated for"
assert_eq 700 "$(stat -c %a "$state")" "state dir mode"
assert_eq 600 "$(stat -c %a "$state/lock")" "lock mode"
assert_eq "$AGENT_PID" "$(tr -d '\n' <"$state/lock")" "the new lock names the daemon"
assert_eq 700 "$(stat -c %a "$state/current")" "current/ mode"
assert_eq 600 "$(stat -c %a "$state/current/key.pem")" "current/key.pem mode"
assert_eq "$fp_a" "$(certs_fp "$state/current/cert.pem")" "last-known-good copy"
assert_eq true "$(jq .healthy "$state/status.json")" "status.json healthy"
assert_eq "$AGENT_PID" "$(jq .pid "$state/status.json")" "status.json pid"
# shellcheck disable=SC2046
agent_run hc1 healthcheck $(rotate_env) "--state-dir=$state"
assert_eq 0 "$AGENT_RC" "healthcheck after the state dir was re-made"
assert_eq true "$(events hc1 'select(.event=="healthcheck") | .healthy')" "healthcheck event"

# the new lock keeps a second agent out, as the old one did
# shellcheck disable=SC2046
agent_run once once $(rotate_env) "--state-dir=$state" "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 2 "$AGENT_RC" "once while the daemon runs"
assert_eq "$AGENT_PID" "$(events once 'select(.event=="agent.locked") | .holder_pid')" "holder_pid"

# deleted again, and a rotation arrives before the next poll could notice
rm -rf "$state"
src_write b
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome' | tail -1)" "outcome"
assert_all_serve "$fp_b"
disk_pair_matches || fail "cert and key on disk do not match"
assert_eq "$fp_a" "$(certs_fp "$(printf '%s\n' "$state"/backups/*/ | tail -1)/cert.pem")" "backup of a"
assert_eq "$fp_b" "$(certs_fp "$state/current/cert.pem")" "current/ is b"
assert_eq 700 "$(stat -c %a "$state")" "state dir mode after the rotation"
assert_eq 700 "$(stat -c %a "$state/backups")" "backups/ mode"
wait_event run '.event=="state.recreated"' 15 2
assert_eq "$AGENT_PID" "$(tr -d '\n' <"$state/lock")" "lock re-taken"
assert_eq "\"$fp_b\"" "$(jq .fingerprint "$state/status.json")" "status.json fingerprint"
# shellcheck disable=SC2046
agent_run hc2 healthcheck $(rotate_env) "--state-dir=$state"
assert_eq 0 "$AGENT_RC" "healthcheck after the rotation"
kill -0 "$AGENT_PID" || fail "agent died"
agent_stop "$AGENT_PID" run
pass
