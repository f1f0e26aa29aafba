#!/bin/bash
# certs-dir source: the ACME tool (here: cp, as a deploy hook would)
# replaces cert.pem and key.pem in place; the agent reloads both daemons
# and verifies. `once` then reports unchanged (exit 0).
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b rsa 90 mail.example.test
bed_start a
fp_b=$(certs_fp "$T/b.cert.pem")

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) --source=certs-dir --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="state.adopted"' 30
cp "$T/b.cert.pem" "$T/certs/cert.pem"
cp "$T/b.key.pem" "$T/certs/key.pem"
wait_event run '.event=="cycle.done"' 60
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq true "$(events run 'select(.event=="cert.installed") | .in_place')" "in place"
assert_eq 2 "$(events run 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "reload.exec"
assert_all_serve "$fp_b"
# SIGHUP re-reads the settings and keeps running
kill -HUP "$AGENT_PID"
wait_event run '.event=="config.reloaded"' 20
kill -0 "$AGENT_PID" || fail "agent died on SIGHUP"
agent_stop "$AGENT_PID" run

# shellcheck disable=SC2046
agent_run once once $(rotate_env) --source=certs-dir
assert_eq 0 "$AGENT_RC" "once exit code"
assert_eq '"unchanged"' "$(events once 'select(.event=="cycle.done") | .outcome')" "outcome"
pass
