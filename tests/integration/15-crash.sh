#!/bin/bash
# kill -9 at every step boundary of a rotation and of its rollback (the
# test-only pause points, compiled into the ASan test build only), then
# restart on the same state dir and front. After every restart: cert and
# key on disk match and are one of the two pairs byte for byte, no journal
# and no temp file is left, and the restarted agent ends verified on all
# nine ports:
#   - a kill on the way forward ends rotated (the new pair on disk, in
#     current/, served), with no rollback, rejection or failed drift heal;
#   - a kill on the rollback path (a reload step that refuses the new
#     bundle, so every attempt of it rolls back) ends with the old pair
#     restored and served: the restart finishes or undoes the interrupted
#     restore from its journal, and since nothing about the failure is
#     kept across a restart it tries the bundle once more, which rolls
#     back again (outcome rolled_back, verified).
# The list of steps is checked against the TEST_PAUSE points in agent/,
# so a new pause point without a kill here fails the test.
. "$(dirname "$0")/../lib/lib.sh"

PORT_BASE=${PORT_BASE:-27000}
# CRASH_ONLY=REGEX: kill only at the matching steps (while debugging one)
only=${CRASH_ONLY:-.}

forward_steps="cycle.source_read cycle.validated
	install.backup_key_written install.backup_written install.backup_renamed install.backup_done
	cycle.backup_done
	install.key_temp_written install.temp_written install.journal_temp_written install.journal_written
	install.key_renamed install.cert_renamed install.dir_synced install.journal_removed cycle.installed
	cycle.reload_before.1 cycle.reload_before.2 cycle.reloading
	cycle.verifying verify.probed cycle.verified
	install.current_new_key_written install.current_new_written install.current_old_renamed
	install.current_renamed install.current_saved
	cycle.finishing cycle.done_logged"
rollback_steps="rollback.started
	rollback.install.key_temp_written rollback.install.temp_written rollback.install.journal_temp_written
	rollback.install.journal_written rollback.install.key_renamed rollback.install.cert_renamed
	rollback.install.dir_synced rollback.install.journal_removed rollback.restored
	rollback.cycle.reload_before.1 rollback.cycle.reloading rollback.cycle.reload_before.2
	rollback.cycle.reload_before.3 rollback.cycle.reload_before.4
	rollback.cycle.verifying rollback.verify.probed rollback.cycle.verified
	cycle.finishing cycle.done_logged"
# shellcheck disable=SC2086
all_steps=$(printf '%s\n' $forward_steps $rollback_steps | sort -u)

# every pause point in the agent is killed at least once (the drift heal's
# "drift." ones in 65-crash-drift.sh: a heal is not a rotation)
while read -r name; do
	grep -qxE "(rollback\.)?$name" <<<"$all_steps" ||
		fail "pause point $name is not in this test's list"
done < <(grep -ohE 'TEST_PAUSEF?\("[^"]+"' "$MCA_ROOT"/agent/*.c | sed -E 's/.*\("//; s/"$//' |
	sed -E 's/\./\\./g; s/%s/[a-z_]+/g; s/%zu/[0-9]+/g' | sort -u)

certs_leaf "$T" p0 ec256 30 mail.example.test
gate_setup   # every attempt of the bundle in $T/gate/bad.pem ends in a rollback
bed_start p0 -v "$T/gate:/gate:ro"
src_write p0
src="--source=pair:$T/src/cert.pem,$T/src/key.pem"
gated=$GATED

# after_restart NAME PREFIX STEP: what must hold once the restart after a
# kill at STEP settled on PREFIX's pair
after_restart() {
	local name=$1 want=$2 why=$3 fp bad
	fp=$(certs_fp "$T/$want.cert.pem")
	disk_pair_matches || fail "cert and key on disk do not match after a kill at $why"
	assert_disk_holds "$want" "after a kill at $why"
	assert_no_leftovers "after a kill at $why"
	assert_all_serve "$fp"
	bad=$(events "$name" 'select(.event | IN("drift.failed", "rollback.failed", "install.journal_invalid",
		"install.recover_failed", "install.restored", "cert.install_failed", "state.write_failed")) | .event' |
		paste -sd' ' -)
	assert_eq "" "$bad" "events after a kill at $why"
}

# crash NAME STEP ARGS...: start an agent that pauses at STEP, hand it the
# new pair, SIGKILL it there; logs what the kill left behind
crash() {
	local name=$1 step=$2 victim
	shift 2
	MCA_TEST_PAUSE_AT=$step agent_bg "$name" run "$@"
	victim=$AGENT_PID
	wait_event "$name" '.event=="agent.start"' 30
	src_write "$new"
	wait_event "$name" ".event==\"test.paused\" and .step==\"$step\"" 60
	kill -KILL "$victim"
	wait "$victim" 2>/dev/null || true
	served=$(front_served_fp 127.0.0.1 "$(front_port https "$PORT_BASE")" https)
	[ "$served" = "$fp_old" ] || [ "$served" = "$fp_new" ] || fail "after a kill at $step, https serves ${served:0:12}: neither pair"
	log "killed at $step: disk cert $(certs_fp "$T/certs/cert.pem" | head -c 12), served ${served:0:12}, journal $([ -e "$T/state/journal" ] && echo yes || echo no)"
}

i=0 old=p0
# shellcheck disable=SC2086
for step in $forward_steps; do
	[[ $step =~ $only ]] || continue
	i=$((i + 1))
	new=p$i
	certs_leaf "$T" "$new" ec256 $((30 + i)) mail.example.test
	fp_old=$(certs_fp "$T/$old.cert.pem")
	fp_new=$(certs_fp "$T/$new.cert.pem")
	# shellcheck disable=SC2046
	crash "crash-$i" "$step" $(rotate_env) "$src" --poll-interval=1s
	# shellcheck disable=SC2046
	agent_bg "restart-$i" run $(rotate_env) "$src" --poll-interval=1s
	wait_status "$AGENT_PID" "$fp_new" 90
	after_restart "restart-$i" "$new" "$step"
	n=$(events "restart-$i" 'select(.event=="cycle.done" and .outcome!="rotated" and .outcome!="unchanged")' | wc -l)
	assert_eq 0 "$n" "cycles neither rotated nor unchanged after a kill at $step"
	case $step in
	install.journal_written | install.key_renamed | install.cert_renamed | install.dir_synced)
		assert_eq 1 "$(event_count "restart-$i" install.recovered)" "journal recovery after $step" ;;
	esac
	agent_stop "$AGENT_PID" "restart-$i"
	old=$new
done

# the rollback path: each new bundle is refused by the gate, so it is
# rolled back to the pair before it ($old stays the good one)
j=0
# shellcheck disable=SC2086
for step in $rollback_steps; do
	[[ $step =~ $only ]] || continue
	i=$((i + 1)) j=$((j + 1))
	new=p$i
	certs_leaf "$T" "$new" ec256 $((30 + i)) mail.example.test
	cp "$T/$new.cert.pem" "$T/gate/bad.pem"
	fp_old=$(certs_fp "$T/$old.cert.pem")
	fp_new=$(certs_fp "$T/$new.cert.pem")
	# shellcheck disable=SC2046
	crash "rb-crash-$j" "$step" $(rotate_env) "$src" --poll-interval=1s "$gated"
	# shellcheck disable=SC2046
	agent_bg "rb-restart-$j" run $(rotate_env) "$src" --poll-interval=1s "$gated"
	wait_event "rb-restart-$j" '.event=="cycle.done"' 90
	assert_eq '"rolled_back"' "$(events "rb-restart-$j" 'select(.event=="cycle.done") | .outcome')" "outcome after a kill at $step"
	wait_status "$AGENT_PID" "$fp_old" 30
	after_restart "rb-restart-$j" "$old" "$step"
	assert_eq true "$(events "rb-restart-$j" 'select(.event=="rollback.done") | .verified')" "rollback verified after a kill at $step"
	case $step in
	rollback.install.journal_written | rollback.install.key_renamed | rollback.install.cert_renamed | rollback.install.dir_synced)
		assert_eq 1 "$(event_count "rb-restart-$j" install.recovered)" "journal recovery after $step" ;;
	esac
	# the source goes back to the good pair, so the next crash starts idle
	src_write "$old"
	agent_stop "$AGENT_PID" "rb-restart-$j"
done
pass "$i kills: $((i - j)) forward, $j on the rollback path"
