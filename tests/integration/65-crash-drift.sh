#!/bin/bash
# kill -9 at every step boundary of a drift heal (the "drift." pause
# points: each reload command, after each, before and inside the verify),
# then restart on the same state dir and front. A heal only reloads: it
# must never touch the files. After every kill the disk holds the good
# pair byte for byte (no journal, no temp file, current/ unchanged), and
# the restarted agent heals what is still stale (or finds it healed) and
# ends verified on all nine ports, with no rotation, rollback or failed
# heal. The drift is the nginx-only reload of 40-drift-expiry: dovecot's
# seven ports serve an older pair A while the disk and nginx hold B.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-23000}
# the pause points a heal passes, in order (reload.c, cycle.c deliver,
# verify.c); the docker backend runs its two default commands at once
# (both pause points come before either starts)
steps="drift.cycle.reload_before.1 drift.cycle.reload_before.2 drift.cycle.reloading
	drift.cycle.verifying drift.verify.probed drift.cycle.verified"

certs_leaf "$T" a ec256 60 mail.example.test
certs_leaf "$T" b ec256 90 mail.example.test
bed_start b
fp_a=$(certs_fp "$T/a.cert.pem")
fp_b=$(certs_fp "$T/b.cert.pem")
src_write b
src="--source=pair:$T/src/cert.pem,$T/src/key.pem"

# the state dir learns B as last-known-good from a first, clean run
# shellcheck disable=SC2046
agent_bg first run $(rotate_env) "$src" --poll-interval=1s
wait_event first '.event=="verify.endpoint"' 30 9
agent_stop "$AGENT_PID" first
assert_disk_holds b "after the first run"

# drift: someone loads A into dovecot, puts B back and reloads nginx only
make_drift() {
	bed_install a
	docker exec "$FRONT" dovecot reload
	wait_served "$fp_a" imaps pop3s sieve
	bed_install b
	docker exec "$FRONT" nginx -s reload >/dev/null 2>&1
	wait_served "$fp_b" https smtp
}

i=0
for step in $steps; do
	i=$((i + 1))
	make_drift
	# shellcheck disable=SC2046
	MCA_TEST_PAUSE_AT=$step agent_bg "crash-$i" run $(rotate_env) "$src" --poll-interval=1s
	victim=$AGENT_PID
	# the start-up check finds the drift and heals it at once
	wait_event "crash-$i" '.event=="drift.detected"' 30
	wait_event "crash-$i" ".event==\"test.paused\" and .step==\"$step\"" 60
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null || true
	served=$(for p in $FRONT_PROTOS; do front_served_fp 127.0.0.1 "$(front_port "$p" "$PORT_BASE")" "$p" |
		head -c 8; echo -n " "; done)
	log "killed at $step: served $served"
	for fp in $served; do
		[ "$fp" = "${fp_a:0:8}" ] || [ "$fp" = "${fp_b:0:8}" ] ||
			fail "after a kill at $step an endpoint serves $fp: neither pair"
	done

	# the files were never touched: B's bytes, as after the first run
	assert_disk_holds b "after a kill at $step"
	assert_no_leftovers "after a kill at $step"

	# shellcheck disable=SC2046
	agent_bg "restart-$i" run $(rotate_env) "$src" --poll-interval=1s
	# written once the start-up check (and its heal, if still stale) is over
	wait_status "$AGENT_PID" "$fp_b" 60
	if [ "$(event_count "restart-$i" drift.detected)" -gt 0 ]; then
		assert_eq 1 "$(event_count "restart-$i" drift.healed)" "heal after a kill at $step"
	fi
	assert_all_serve "$fp_b"
	bad=$(events "restart-$i" 'select(.event | IN("drift.failed", "rollback.started", "rollback.failed", "cycle.done",
		"install.recovered", "install.journal_invalid", "install.recover_failed", "cert.install_failed",
		"state.write_failed")) | .event' | paste -sd' ' -)
	assert_eq "" "$bad" "events after a kill at $step"
	agent_run "health-$i" healthcheck "--state-dir=$T/state"
	assert_eq 0 "$AGENT_RC" "healthy after the restart from a kill at $step"
	agent_stop "$AGENT_PID" "restart-$i"
	log "restart after $step: $(event_count "restart-$i" drift.healed) heal(s), all nine serve B"
done
pass "$i kills inside a drift heal: files untouched, healed on restart"
