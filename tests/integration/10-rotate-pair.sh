#!/bin/bash
# Rotation A -> B from a pair: source, by the daemon: events in order,
# two reload.exec with exit 0 (nginx -s reload beside dovecot reload),
# nine matching verify.endpoint, outcome
# rotated, and openssl confirms B on all nine ports. Then `rollback`
# restores A, and SIGTERM ends the daemon with 0.
# With Mailu's certificate watcher on in the front (FRONT_CERT_WATCHER=1,
# the +watcher pass), the front reloads itself: no reload.exec, one
# reload.front_watcher served, the watcher's own reloads in the front's
# log. Without it, the rollback runs with AGENT_FRONT_WATCHER=yes and a
# 1 s wait: the watcher that never comes is waited for, then the agent
# reloads itself.
. "$(dirname "$0")/../lib/lib.sh"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start a
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
mkdir -p "$T/src"
install -m 0644 "$T/a.cert.pem" "$T/src/cert.pem"
install -m 0600 "$T/a.key.pem" "$T/src/key.pem"

# shellcheck disable=SC2046
agent_bg run run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" --poll-interval=1s
wait_event run '.event=="agent.start"' 30
wait_event run '.event=="verify.endpoint"' 30 9
assert_eq 0 "$(event_count run cycle.done)" "cycles before any change"
sleep 1	# idle, so detect_ms measures the change alone

# the ACME client writes the new pair (cert first, then key)
cp "$T/b.cert.pem" "$T/src/cert.pem.new" && mv "$T/src/cert.pem.new" "$T/src/cert.pem"
cp "$T/b.key.pem" "$T/src/key.pem.new" && mv "$T/src/key.pem.new" "$T/src/key.pem"
wait_event run '.event=="cycle.done"' 60
assert_json_lines run

c=$(events run 'select(.event=="cycle.done") | .cycle' | head -1)
seq=$(log_lines run | jq -r --argjson c "$c" 'select(.cycle==$c) | .event' | uniq | paste -sd' ' -)
if [ "${FRONT_CERT_WATCHER:-0}" = 1 ]; then
	assert_eq "source.changed cert.backup cert.installed reload.front_watcher verify.endpoint verify.ok cycle.done" "$seq" "event order"
	assert_eq 0 "$(event_count run reload.exec)" "reload.exec (the front reloaded itself)"
	assert_eq 1 "$(events run "select(.cycle==$c and .event==\"reload.front_watcher\" and .served==true)" | wc -l)" "reload.front_watcher served"
	# the cycle ends once the watcher is done: its four reconfigurations
	# (a deleted and a created file each) all before cycle.done, none after
	assert_eq 4 "$(front_watcher_reconfigs "$FRONT")" "the watcher's reconfigurations when the cycle ended"
	[ "$(events run "select(.cycle==$c and .event==\"cycle.done\") | .timings.front_watcher_idle_ms")" -ge 0 ] ||
		fail "no front_watcher_idle_ms in cycle.done's timings"
	sleep 2
	assert_eq 4 "$(front_watcher_reconfigs "$FRONT")" "the watcher's reconfigurations 2 s after the cycle"
else
	assert_eq "source.changed cert.backup cert.installed reload.exec verify.endpoint verify.ok cycle.done" "$seq" "event order"
	assert_eq 2 "$(events run "select(.cycle==$c and .event==\"reload.exec\" and .exit_code==0)" | wc -l)" "reload.exec exit 0"
	# the default commands, at once: nginx -s reload (which tests the config
	# first) beside dovecot reload
	assert_eq '"dovecot reload" "nginx -s reload"' \
		"$(events run "select(.cycle==$c and .event==\"reload.exec\") | .command" | sort | paste -sd' ' -)" "commands"
	assert_eq 0 "$(event_count run reload.front_watcher)" "reload.front_watcher (no watcher in the front)"
fi
assert_eq 9 "$(events run "select(.cycle==$c and .event==\"verify.endpoint\" and .match==true and .fingerprint==\"$fp_b\")" | wc -l)" "verified endpoints"
assert_eq '"rotated"' "$(events run 'select(.event=="cycle.done") | .outcome')" "outcome"
assert_eq "\"$fp_a\"" "$(events run "select(.cycle==$c and .event==\"cert.backup\") | .fingerprint")" "backup of A"
assert_all_serve "$fp_b"
cmp "$T/certs/cert.pem" "$T/b.cert.pem" || fail "cert.pem is not B"
cmp "$T/certs/key.pem" "$T/b.key.pem" || fail "key.pem is not B"
assert_eq 600 "$(stat -c %a "$T/certs/key.pem")" "key mode"
assert_eq 644 "$(stat -c %a "$T/certs/cert.pem")" "cert mode"
assert_eq 0 "$(find "$T/state/backups" -name key.pem -perm /077 | wc -l)" "backup keys 0600"
[ -e "$T/state/journal" ] && fail "journal left behind"
log "timings: $(events run 'select(.event=="cycle.done") | .timings')"
agent_run health healthcheck "--state-dir=$T/state"
assert_eq 0 "$AGENT_RC" "healthcheck after a verified rotation"
# a second agent on the same state dir refuses
# shellcheck disable=SC2046
agent_run second run $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem"
assert_eq 2 "$AGENT_RC" "second agent exit code"
assert_eq 1 "$(event_count second agent.locked)" "agent.locked"
agent_stop "$AGENT_PID" run

# rollback on demand: the newest backup (A) comes back, verified
watcher=()
[ "${FRONT_CERT_WATCHER:-0}" = 1 ] || watcher=(--front-watcher=yes --front-watcher-wait=1s)
# shellcheck disable=SC2046
agent_run rb rollback $(rotate_env) "--source=pair:$T/src/cert.pem,$T/src/key.pem" "${watcher[@]}"
assert_eq 0 "$AGENT_RC" "rollback exit code"
assert_eq 1 "$(event_count rb rollback.done)" "rollback.done"
if [ "${FRONT_CERT_WATCHER:-0}" = 1 ]; then
	assert_eq 0 "$(event_count rb reload.exec)" "rollback's reload.exec (the front reloaded itself)"
else
	assert_eq 1 "$(events rb 'select(.event=="reload.front_watcher" and .served==false)' | wc -l)" "a watcher waited for in vain"
	assert_eq 2 "$(events rb 'select(.event=="reload.exec" and .exit_code==0)' | wc -l)" "then the agent's own reload"
fi
assert_all_serve "$fp_a"
pass
