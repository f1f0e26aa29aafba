#!/bin/bash
# Two agents on one state dir: the second daemon refuses at once with
# agent.locked naming the first one's pid (exit 2) and touches nothing;
# a `once` while the daemon runs refuses the same way; the first daemon
# keeps working and rotates afterwards.
. "$(dirname "$0")/../lib/lib.sh"
PORT_BASE=${PORT_BASE:-26000}

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")
src_write a

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
first=$AGENT_PID
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="state.adopted"' 5
assert_eq "$first" "$(tr -d '\n' <"$T/state/lock")" "the lock names its holder"
status_before=$(cat "$T/state/status.json")
state_before=$(cd "$T/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)

# a second daemon on the same state dir (bounded: one that wrongly starts
# is stopped after 30 s and exits 0)
printf '#!/bin/sh\nexec timeout -s TERM 30 "%s" "$@"\n' "$MCA_AGENT" >"$T/bounded"
chmod +x "$T/bounded"
real_agent=$MCA_AGENT
MCA_AGENT=$T/bounded
# shellcheck disable=SC2046
agent_run run2 run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
MCA_AGENT=$real_agent
assert_eq 2 "$AGENT_RC" "second daemon's exit code"
assert_json_lines run2
assert_eq 1 "$(event_count run2 agent.locked)" "agent.locked events"
assert_eq "$first" "$(events run2 'select(.event=="agent.locked") | .holder_pid')" "holder_pid"
assert_eq "\"$T/state\"" "$(events run2 'select(.event=="agent.locked") | .state_dir')" "state_dir"
assert_eq error "$(events run2 'select(.event=="agent.locked") | .level' | tr -d '"')" "level"
assert_eq 0 "$(event_count run2 agent.start)" "agent.start of the second"
assert_eq "$state_before" "$(cd "$T/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" \
	"the state dir after the second daemon"

# `once` (a deploy hook) while the daemon runs: refused, nothing touched
# shellcheck disable=SC2046
agent_run once once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 2 "$AGENT_RC" "once's exit code while the daemon runs"
assert_eq "$first" "$(events once 'select(.event=="agent.locked") | .holder_pid')" "once: holder_pid"
assert_eq 0 "$(event_count once cycle.done)" "once ran no cycle"
assert_eq 0 "$(event_count once cert.installed)" "once installed nothing"
assert_eq "$state_before" "$(cd "$T/state" && find . -type f -print0 | sort -z | xargs -0 sha256sum)" \
	"the state dir after once"

# the first keeps working: it takes b itself
src_write b
wait_event run '.event=="cycle.done" and .outcome=="rotated"' 60
assert_all_serve "$fp_b"
kill -0 "$first" || fail "first agent died"
assert_eq "$first" "$(tr -d '\n' <"$T/state/lock")" "the lock still names the first"
assert_eq "$first" "$(jq -r .pid "$T/state/status.json")" "status.json written by the first"
assert_ne "$status_before" "$(cat "$T/state/status.json")" "status.json"
agent_stop "$first" run

# once the first stopped, a second one starts normally
# shellcheck disable=SC2046
agent_run once2 once $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 0 "$AGENT_RC" "once after the daemon stopped"
assert_eq 0 "$(event_count once2 agent.locked)" "agent.locked after the daemon stopped"
pass
